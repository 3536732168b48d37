"""Councils' children-in-need census returns: the data behind DfE's statistics, and behind a council's own trial.

Modules: config (data/trials.yaml), xsd (DfE's schemas per collection year), returns (one return read, streamed and
validated), rules (DfE's validation rules), pseudonym (children's ids hashed with a key kept outside the
warehouse), ingest (every trial's returns into the restricted tables), totals (an authority's totals by DfE's
definitions, and their reconciliation with what DfE published), trial (a trial's cases from the returns and its
randomisation list), synthetic (SYNTHETIC returns that give back DfE's published figures).
"""
