"""Case-level strands of the FACT22 evaluation: the RCT, the risk analysis
of coded case notes and the service's management information.

Pure Python over DataFrames (no dagster, no duckdb). The real extracts are
council data about children; the repository ships SYNTHETIC stand-ins
(data/synthetic/) that pass the same schemas, and every table built here
carries the data_origin of its input.

Modules: schemas (extract specs, validation), rct (logistic models,
balance, power), tobit (censored case lengths), risk (framework scoring),
service (management information), suppression (small counts),
synthetic (the stand-in generator).
"""
