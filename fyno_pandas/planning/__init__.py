"""Pure: a frame to a push plan (types, coercions, dropped values, each row's requests)."""
