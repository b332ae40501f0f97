"""Pure: the columns of a push's result, and reading a result back to replay its push."""
