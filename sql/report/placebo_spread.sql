-- The spread of the study's placebo estimates: comparator held fixed, and re-selected.
WITH fixed AS (
    SELECT outcome, stddev_samp(estimate) AS fixed_sd
    FROM marts.did_placebo_space
    WHERE study_id = $study_id AND vintage = $vintage AND role = 'placebo'
    GROUP BY outcome
),
reselected AS (
    SELECT outcome, stddev_samp(estimate) AS reselected_sd
    FROM marts.did_placebo_space_reselected
    WHERE study_id = $study_id AND vintage = $vintage AND role = 'placebo'
    GROUP BY outcome
)
SELECT * FROM fixed FULL JOIN reselected USING (outcome) ORDER BY outcome;
