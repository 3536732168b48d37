-- Study x vintage x outcome combinations whose comparator choice is broken:
-- not exactly one selected unit, a selected unit that is ineligible, or a
-- selected unit failing the pre-trend test while another passes it (unless
-- the study fixes that comparator to reproduce a published evaluation).
WITH per_outcome AS (
    SELECT study_id, vintage, outcome,
           count(*) FILTER (WHERE selected) AS n_selected,
           bool_or(selected AND NOT eligible) AS selected_ineligible,
           bool_or(selected AND NOT passes_pretrend) AS selected_fails_pretrend,
           bool_or(eligible AND passes_pretrend) AS any_passes_pretrend,
           bool_and(selection_rule = 'ranking rule') AS chosen_by_rule
    FROM marts.comparator_ranking
    GROUP BY study_id, vintage, outcome
)
SELECT * FROM per_outcome
WHERE n_selected <> 1 OR selected_ineligible OR (selected_fails_pretrend AND any_passes_pretrend AND chosen_by_rule)
ORDER BY study_id, vintage, outcome;
