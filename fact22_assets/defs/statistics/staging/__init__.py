"""Staging layer: typed and harmonised, one row per area and year."""
