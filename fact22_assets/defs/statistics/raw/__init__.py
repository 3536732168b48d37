"""Raw layer: every catalogued file as published, with provenance."""
