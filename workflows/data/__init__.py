"""Package data of workflows: engine input sets and presets (YAML, each value with its source)."""
