"""Helpers for the browser test: a JupyterLab server on loopback and a notebook writer."""
