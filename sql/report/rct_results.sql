-- The trial's results (the same in every study's report).
SELECT * FROM marts.rct_results ORDER BY analysis DESC, outcome;
