SELECT * FROM marts.service_case_length_by_year ORDER BY start_year;
