"""I/O and state: sending a plan's requests, settling, acknowledging and journalling them."""
