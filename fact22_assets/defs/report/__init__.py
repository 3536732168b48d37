"""Figures, the evaluation report and the data dictionary: what people read.

Figures and the report are files beside the warehouse (settings.outputs_dir()),
keyed ["figures", name] and ["reports", name]; the data dictionary is the
table marts.data_dictionary plus a COMMENT on every published table and column."""
