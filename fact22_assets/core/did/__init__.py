"""Comparator selection and difference-in-differences for strand 1 (pure Python).

Works on the long unit x year panel as a pandas DataFrame; no Dagster or
DuckDB here. Every module, in the order an analysis runs:

- study: the study design (`Study`, read from YAML) and the FACT22 default;
- config: the studies file (`load_studies`), its interventions and who may
  not be a donor (`donor_exclusions`);
- panel: the input contract (columns, pivots, unit names);
- prepared: a study x outcome prepared once (`prepare_outcome`) and passed down;
- eligibility: which units have complete, consistent series;
- pretrends, similarity, ranking: one comparator per outcome, by a
  documented rule (see `ranking`);
- closed_form: the vectorised two-unit OLS fits behind pretrends and placebos;
- estimation: the report's DiD regression and 2x2 difference of means;
- placebo, event_study: inference for one treated unit (and `rmspe_ratio`,
  the synthetic controls' test statistic);
- selection_placebo: placebo-in-space with every placebo re-selecting its
  own comparator by the ranking rule;
- robustness: the specification curve and the pick's stability;
- twfe: two-way fixed effects over every eligible authority;
- donor_pool: the K donors nearest a target, and every donor's own K nearest
  (a k-d tree);
- synthetic_control: weights, gap path and placebo p-value;
- synthetic_control_identification: whether the plain synthetic control is
  identified (hull test, range of best-fit gaps);
- synthetic_did, frank_wolfe: synthetic difference-in-differences and its
  Frank-Wolfe loop compiled with numba;
- penalised_synthetic_control, penalised_qp: the penalised synthetic control
  (Abadie and L'Hour) and its simplex QP compiled with numba;
- whole_pool: the whole-pool estimators (synthetic DiD, penalised and plain
  synthetic control identification) as registry entries;
- contract: what an estimator is and gives back;
- estimators: the registry (`ESTIMATORS`) and the comparator rule's answer;
- evaluation: every registered estimator for every outcome, as the mart tables;
- simulated_panel: a simulated panel with a known effect, for tests and benchmarks;
- mart_checks: each published mart's invariants recomputed without the
  estimators' code (the DiD marts' asset checks call them).

docs/estimators.md records the choices behind each estimator and their references.
"""

from .closed_form import PairFits, differential_slopes, pair_did
from .eligibility import eligibility, eligible_units
from .estimation import did_estimates
from .estimators import ESTIMATORS, Estimator, Selection, select_comparator
from .evaluation import evaluate_study
from .event_study import event_study
from .placebo import PlaceboInSpace, permutation_p_value, placebo_in_space, placebo_in_time
from .prepared import PreparedOutcome, PreparedPanel, prepare_outcome
from .pretrends import pretrend_tests
from .ranking import rank_comparators, selected_comparator
from .similarity import demographic_similarity, level_similarity
from .study import FACT22, RankingRule, Study, StudyConfigError
from .synthetic_control import SyntheticControl, synthetic_control, synthetic_weights

__all__ = [
    "FACT22",
    "PairFits",
    "PlaceboInSpace",
    "RankingRule",
    "Study",
    "StudyConfigError",
    "ESTIMATORS",
    "Estimator",
    "PreparedOutcome",
    "PreparedPanel",
    "Selection",
    "SyntheticControl",
    "demographic_similarity",
    "did_estimates",
    "differential_slopes",
    "eligibility",
    "eligible_units",
    "evaluate_study",
    "event_study",
    "level_similarity",
    "pair_did",
    "permutation_p_value",
    "prepare_outcome",
    "placebo_in_space",
    "placebo_in_time",
    "pretrend_tests",
    "rank_comparators",
    "select_comparator",
    "selected_comparator",
    "synthetic_control",
    "synthetic_weights",
]
