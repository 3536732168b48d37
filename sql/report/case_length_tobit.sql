SELECT * FROM marts.case_length_tobit;
