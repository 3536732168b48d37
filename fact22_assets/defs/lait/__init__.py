"""Benchmarking each authority as DfE's LAIT does (the marts.la_benchmarks tables): against England, its
region and each of its DfE statistical neighbours, with polarity, national rank and quartile band.
("benchmarks/" at the top of the repository times the build; nothing here times anything.)"""
