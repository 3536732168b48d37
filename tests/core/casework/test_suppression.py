"""Withholding small counts where rows add up to totals published elsewhere: the loop over groupings."""
import pandas as pd

from fact22_assets.core.casework.suppression import withhold_small_counts

STATUS = "_status"


def test_withholding_protects_totals_published_elsewhere():
    # Outcomes add up to the families served; cp + lac add up to a published escalated total.
    frame = pd.DataFrame({"category": ["closed", "escalated_cp", "escalated_lac", "open", "other"],
                          "n": [120, 3, 9, 40, 30], "data_origin": "SYNTHETIC"})
    out = withhold_small_counts(frame, ["n"], (pd.Series("outcome", index=frame.index),
                                               pd.Series(["", "esc", "esc", "", ""]).replace("", None)))
    withheld = set(out.loc[out[f"n{STATUS}"] == "c", "category"])
    # 3 is small; lac (9), the smallest other outcome and cp's partner, goes with it.
    assert withheld == {"escalated_cp", "escalated_lac"}
    assert list(out.columns) == ["category", "n", f"n{STATUS}", "data_origin"]
    alone = withhold_small_counts(frame, ["n"])
    assert set(alone.loc[alone[f"n{STATUS}"] == "c", "category"]) == {"escalated_cp"}
