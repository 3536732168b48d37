-- Comparators other studies fix for the same treated authority and years (a
-- published evaluation's pairs), where this study's ranking puts them, and the
-- report's estimate against each.
WITH fixed AS (
    SELECT DISTINCT study_id, outcome, unit_code
    FROM marts.comparator_ranking
    WHERE vintage = $vintage AND selected AND selection_rule = 'fixed by the study' AND study_id <> $study_id
),
eligible AS (
    SELECT outcome, count(*) FILTER (WHERE eligible) AS n_eligible
    FROM marts.comparator_ranking
    WHERE study_id = $study_id AND vintage = $vintage
    GROUP BY outcome
)
SELECT f.study_id, r.outcome, r.unit_code, r.unit_name, r.rank, e.n_eligible, r.passes_pretrend,
       r.differential_slope_p, r.level_difference, r.composite_score, c.estimate
FROM fixed AS f
JOIN marts.comparator_ranking AS r
    ON r.study_id = $study_id AND r.vintage = $vintage AND r.outcome = f.outcome AND r.unit_code = f.unit_code
JOIN eligible AS e ON e.outcome = r.outcome
LEFT JOIN marts.did_comparator_robustness AS c
    ON c.study_id = $study_id AND c.vintage = $vintage AND c.outcome = r.outcome AND c.unit_code = r.unit_code
WHERE EXISTS (SELECT 1 FROM marts.did_results AS d
              WHERE d.study_id = f.study_id AND d.vintage = $vintage AND d.treated_unit_code = $treated_unit_code)
ORDER BY r.outcome;
