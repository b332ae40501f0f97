"""Pure: the options every entry point takes, their checks, defaults and documentation."""
