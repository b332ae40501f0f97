"""I/O: the HTTP client (connection, retries, rate limit, requests in flight, redaction)."""
