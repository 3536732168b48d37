"""Case-level strands of every trial of data/trials.yaml: census returns, randomisation lists and researcher-coded
extracts into the restricted file; aggregate marts, keyed by trial_id, with small counts withheld.

Case rows (schema ``restricted``) never reach the analysts' warehouse; only the marts do."""
