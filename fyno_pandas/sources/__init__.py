"""Where a segment comes from besides pandas: sources read batch by batch into the chunked push."""
