"""Case-level strands: the RCT, the risk analysis and FACT22's management information.

Case rows stay in the restricted file (schema ``restricted``); only aggregate
marts, small counts withheld, reach the analysts' warehouse."""
