"""Marts: rates per 10,000, their vintages and the revisions between releases."""
