"""The command line's larger pieces: the ``rules`` subcommands and the progress bar (``cli.py`` wires them)."""
