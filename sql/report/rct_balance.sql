-- The trial's balance table, as randomised.
SELECT * FROM marts.rct_balance WHERE analysis = 'itt';
