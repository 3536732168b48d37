"""Two-way fixed-effects difference-in-differences over every eligible authority.

    Y_it = a_i + g_t + tau * D_it + e_it,   D_it = 1 for the treated unit after the start

fitted to the treated unit and all eligible donors in the study years. With
one treated unit, common timing and a balanced panel (which eligibility
guarantees), the least-squares tau equals the 2x2 difference of means of
the treated unit against the donors' average,

    tau = (treated post mean - treated pre mean) - (donors' post mean - donors' pre mean),

so it is computed in closed form (tests check it against statsmodels with
unit and year dummies). Unlike the report's specification it uses the whole
donor pool rather than one chosen comparator, so no selection step can move it.
Inference: placebo-in-space, each donor in turn treated as if it had run the
programme against all the other donors (vectorised leave-one-out means).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .contract import Selection, results_rows
from .placebo import permutation_p_value
from .prepared import PreparedOutcome

TWFE = "twfe_all_donors"
TWFE_INFERENCE = "placebo-in-space: each donor against all other donors"


def twfe_all_donors(treated: np.ndarray, donors: np.ndarray, post: np.ndarray) -> tuple[float, np.ndarray]:
    """tau for the treated unit, and for each donor as pseudo-treated against the rest.

    treated: (T,); donors: (N, T); post: (T,) booleans.
    """
    n = donors.shape[0]
    change = donors[:, post].mean(axis=1) - donors[:, ~post].mean(axis=1)  # each donor's post - pre
    tau = (treated[post].mean() - treated[~post].mean()) - change.mean()
    others = (change.sum() - change) / (n - 1)  # the other donors' average change
    return float(tau), change - others


class TwoWayFixedEffects:
    name = TWFE
    marts = ("did_results",)
    methods = {TWFE: "Two-way fixed effects, all eligible authorities"}
    cross_check = "tests/core/did/test_did_twfe.py: statsmodels OLS with unit and year dummies, a hand-worked panel"

    def estimate(self, prepared: PreparedOutcome, selection: Selection) -> dict[str, pd.DataFrame]:
        study = prepared.study
        years = list(study.study_years)
        post = np.isin(years, study.post_years)
        donors = list(prepared.candidates)
        treated = prepared.values(prepared.outcome, [study.treated_unit_code], years)[0]
        tau, placebos = twfe_all_donors(treated, prepared.values(prepared.outcome, donors, years), post)
        row = {
            "study_id": study.study_id,
            "outcome": prepared.outcome,
            "treated_unit_code": study.treated_unit_code,
            "method": TWFE,
            "first_post_year": study.first_post_year,
            "estimate": tau,
            "n_obs": (len(donors) + 1) * len(years),
            "permutation_p_value": permutation_p_value(tau, placebos),
            "n_placebos": len(placebos),
            "permutation_inference": TWFE_INFERENCE,
        }
        return {"did_results": results_rows([row])}
