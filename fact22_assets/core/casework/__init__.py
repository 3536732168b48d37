"""Case-level strands of a randomised trial (any trial of data/trials.yaml): the trial's results, case length,
the risk analysis of coded case notes and a service's management information.

Pure Python over DataFrames (no dagster, no duckdb). The trial's cases come from the council's census returns
(core/census); the council data about children never leave the restricted file, and the marts built here are
withheld where a count of 1 to 5 could be worked out. The repository ships SYNTHETIC stand-ins
(data/synthetic/) that pass the same schemas, and every table built here carries the data_origin of its input.

Modules: schemas (the trial's CSV inputs and their validation), rct (logistic models, Fisher's exact test,
balance, power), tobit (censored case lengths), risk (framework scoring), service (management information),
trial_marts (every mart of a trial with the members of its counts), suppression and disclosure (small counts, in
one mart and across marts), origin (data_origin), standin (the SYNTHETIC stand-in generator).
"""
