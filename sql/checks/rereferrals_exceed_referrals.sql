-- Area-years where re-referrals exceed referrals: impossible, so a parsing or mapping error.
SELECT geographic_level, area_name, collection_year_label, referrals, rereferrals, source_files
FROM staging.cin_area_year
WHERE rereferrals > referrals
ORDER BY area_name, collection_year;
