-- The treated authority's DfE statistical neighbours (one model), as panel units.
WITH units AS (
    SELECT DISTINCT old_la_code, panel_unit_code FROM marts.cin_rates WHERE geographic_level = 'Local authority'
)
SELECT u.panel_unit_code AS unit_code, n.neighbour_rank
FROM raw.statistical_neighbours AS n
JOIN units AS treated ON treated.old_la_code = n.old_la_code
JOIN units AS u ON u.old_la_code = n.neighbour_old_la_code
WHERE n.model = $model
  AND treated.panel_unit_code = $treated_unit_code
  AND NOT n.predecessor_authority
ORDER BY n.neighbour_rank;
