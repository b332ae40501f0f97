"""I/O: reading the CLI's input files as written, and writing a push's result file."""
