"""Package data of arsc: element, support, motif and adsorbate tables."""
