SELECT * FROM marts.service_summary;
