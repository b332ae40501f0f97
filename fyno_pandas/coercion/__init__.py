"""Pure: a column's dtype to a Fyno type, and its values to what goes on the wire."""
