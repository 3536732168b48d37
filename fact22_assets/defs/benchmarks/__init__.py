"""LAIT-style benchmarks: each authority against England, its region and its
DfE statistical neighbours, with national rank and quartile band."""
