"""Entry points: the command line (push, quickstart)."""
