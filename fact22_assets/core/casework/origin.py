"""The data_origin label that travels with every casework table.

Synthetic stand-ins must stay labelled wherever they surface, and an
estimate must never pool synthetic with council rows.
"""

from __future__ import annotations

import pandas as pd

from .schemas import DEFAULT_DATA_ORIGIN


def single_origin(frame: pd.DataFrame) -> str:
    """The one data_origin of `frame`; refuses a mix of origins."""
    if "data_origin" not in frame:
        return DEFAULT_DATA_ORIGIN
    origins = sorted(frame["data_origin"].dropna().unique())
    if len(origins) > 1:
        raise ValueError(f"rows of different data_origin ({', '.join(origins)}) must not be pooled")
    return origins[0] if origins else DEFAULT_DATA_ORIGIN
