"""The public statistics: DfE children-in-need releases and ONS population
estimates, raw (as published) -> staging (harmonised) -> marts (rates)."""
