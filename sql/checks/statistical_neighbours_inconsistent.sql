-- marts.statistical_neighbours against DfE's list (raw): the same pairs,
-- ranks 1..n, named neighbours, no authority its own neighbour, models whose
-- years do not overlap (marts.la_benchmarks' check holds each of its years to
-- the model in force).
WITH pairs AS (
    (SELECT model, old_la_code, neighbour_rank, neighbour_old_la_code FROM marts.statistical_neighbours
     EXCEPT SELECT model, old_la_code, neighbour_rank, neighbour_old_la_code FROM raw.statistical_neighbours)
    UNION ALL
    (SELECT model, old_la_code, neighbour_rank, neighbour_old_la_code FROM raw.statistical_neighbours
     EXCEPT SELECT model, old_la_code, neighbour_rank, neighbour_old_la_code FROM marts.statistical_neighbours)
),
ranks AS (
    SELECT model, old_la_code, count(*) AS n, count(DISTINCT neighbour_rank) AS distinct_ranks,
           max(neighbour_rank) AS top
    FROM marts.statistical_neighbours
    GROUP BY model, old_la_code
),
models AS (
    SELECT DISTINCT model, first_collection_year, last_collection_year FROM marts.statistical_neighbours
)
SELECT model, old_la_code, 'pair differs from DfE''s list' AS problem FROM pairs
UNION ALL
SELECT model, old_la_code, 'ranks are not 1 to ' || n FROM ranks WHERE distinct_ranks <> n OR top <> n
UNION ALL
SELECT model, old_la_code, 'neighbour unnamed or the authority itself' FROM marts.statistical_neighbours
WHERE neighbour_la_name IS NULL OR neighbour_old_la_code = old_la_code
UNION ALL
SELECT a.model, NULL, 'its years overlap model ' || b.model FROM models AS a JOIN models AS b ON a.model < b.model
WHERE coalesce(a.first_collection_year, 0) <= coalesce(b.last_collection_year, 9999)
  AND coalesce(b.first_collection_year, 0) <= coalesce(a.last_collection_year, 9999)
ORDER BY 1, 2, 3;
