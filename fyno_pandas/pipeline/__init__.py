"""Entry points: the one push pipeline (single push, chunks, resume, mirror, retry)."""
