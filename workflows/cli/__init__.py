"""The ``arsc`` command line: one typer module per noun, registered in :mod:`.main`."""
