-- Every authority's DfE statistical neighbours (one model), as panel units: what the
-- selection-aware placebo (core/did/selection_placebo.py) needs so that each placebo
-- ranks its own neighbours first, as the treated unit does with did/neighbours.sql.
-- An authority merged into another panel unit keeps its best rank once.
WITH units AS (
    SELECT DISTINCT old_la_code, panel_unit_code FROM marts.cin_rates WHERE geographic_level = 'Local authority'
)
SELECT own.panel_unit_code AS unit_code, u.panel_unit_code AS neighbour_code, MIN(n.neighbour_rank) AS neighbour_rank
FROM raw.statistical_neighbours AS n
JOIN units AS own ON own.old_la_code = n.old_la_code
JOIN units AS u ON u.old_la_code = n.neighbour_old_la_code
WHERE n.model = $model
  AND NOT n.predecessor_authority
  AND u.panel_unit_code <> own.panel_unit_code
GROUP BY own.panel_unit_code, u.panel_unit_code
ORDER BY unit_code, neighbour_rank, neighbour_code;
