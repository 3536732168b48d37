-- marts.la_benchmarks against LAIT's conventions, recomputed here from the
-- mart's own values (independently of core/benchmarks.py): per year and
-- measure, the authorities with a value, their quartiles (type 7, as R's
-- quantile() and DuckDB's quantile_cont), each band from the value, the
-- quartiles and the polarity (a value on a threshold takes the band below),
-- each rank (1 = best, ties the lowest rank), the value's basis, the
-- neighbours' average from their own values, and the neighbour model in force
-- that year (marts.statistical_neighbours).  Returns every row that differs.
WITH per AS (
    SELECT collection_year, measure, count(value) AS with_value,
           min(value) AS e0, quantile_cont(value, 0.25) AS e25, quantile_cont(value, 0.5) AS e50,
           quantile_cont(value, 0.75) AS e75, max(value) AS e100
    FROM marts.la_benchmarks
    GROUP BY collection_year, measure
),
ranked AS (
    SELECT old_la_code, collection_year, measure,
           rank() OVER (PARTITION BY collection_year, measure
                        ORDER BY CASE polarity WHEN 'Low' THEN value WHEN 'High' THEN -value END) AS expected_rank
    FROM marts.la_benchmarks
    WHERE value IS NOT NULL AND polarity IN ('Low', 'High')
),
models AS (
    SELECT DISTINCT model, first_collection_year, last_collection_year FROM marts.statistical_neighbours
),
expected AS (
    SELECT b.*, p.with_value, p.e0, p.e25, p.e50, p.e75, p.e100, r.expected_rank, m.model AS model_in_force,
           CASE WHEN b.value <= p.e25 THEN 1 WHEN b.value <= p.e50 THEN 2 WHEN b.value <= p.e75 THEN 3 ELSE 4 END
               AS quarter,
           (coalesce(sn_1_value, 0) + coalesce(sn_2_value, 0) + coalesce(sn_3_value, 0) + coalesce(sn_4_value, 0)
            + coalesce(sn_5_value, 0) + coalesce(sn_6_value, 0) + coalesce(sn_7_value, 0) + coalesce(sn_8_value, 0)
            + coalesce(sn_9_value, 0) + coalesce(sn_10_value, 0))
           / nullif((sn_1_value IS NOT NULL)::int + (sn_2_value IS NOT NULL)::int + (sn_3_value IS NOT NULL)::int
                    + (sn_4_value IS NOT NULL)::int + (sn_5_value IS NOT NULL)::int + (sn_6_value IS NOT NULL)::int
                    + (sn_7_value IS NOT NULL)::int + (sn_8_value IS NOT NULL)::int + (sn_9_value IS NOT NULL)::int
                    + (sn_10_value IS NOT NULL)::int, 0) AS expected_sn_average
    FROM marts.la_benchmarks AS b
    JOIN per AS p USING (collection_year, measure)
    LEFT JOIN ranked AS r USING (old_la_code, collection_year, measure)
    LEFT JOIN models AS m ON b.collection_year BETWEEN coalesce(m.first_collection_year, 0)
                                                   AND coalesce(m.last_collection_year, 9999)
),
problems AS (
    SELECT *,
        CASE
            WHEN ranked_authorities <> with_value
                THEN 'ranked_authorities ' || ranked_authorities || ' is not the ' || with_value
                     || ' authorities with a value'
            WHEN abs(quartile_0 - e0) + abs(quartile_25 - e25) + abs(quartile_50 - e50) + abs(quartile_75 - e75)
                 + abs(quartile_100 - e100) > 1e-9 * (1 + abs(e100))
                THEN 'the thresholds are not the quartiles of the authorities with a value'
            WHEN polarity NOT IN ('Low', 'High') AND quartile_band IS DISTINCT FROM 'Not applicable'
                THEN 'a measure without polarity has band ' || coalesce(quartile_band, 'NULL')
            WHEN polarity NOT IN ('Low', 'High') AND national_rank IS NOT NULL
                THEN 'a measure without polarity has a rank'
            WHEN polarity IN ('Low', 'High') AND quartile_band IS DISTINCT FROM
                 CASE WHEN value IS NOT NULL
                      THEN substr(CASE polarity WHEN 'Low' THEN 'ABCD' ELSE 'DCBA' END, quarter, 1) END
                THEN 'band ' || coalesce(quartile_band, 'NULL') || ' does not follow from the value and thresholds'
            WHEN polarity IN ('Low', 'High') AND national_rank IS DISTINCT FROM expected_rank
                THEN 'rank ' || coalesce(national_rank::varchar, 'NULL') || ' should be '
                     || coalesce(expected_rank::varchar, 'NULL')
            WHEN value IS DISTINCT FROM coalesce(value_published, value_warehouse)
              OR value_basis IS DISTINCT FROM CASE WHEN value_published IS NOT NULL THEN 'published'
                                                   WHEN value IS NULL THEN NULL
                                                   WHEN unit LIKE 'per 10,000%' THEN 'rebased' ELSE 'counts' END
                THEN 'value is not DfE''s published figure where there is one, else the warehouse''s'
            WHEN abs(coalesce(sn_average, -1) - coalesce(expected_sn_average, -1)) > 1e-9
                THEN 'sn_average is not the mean of the neighbours'' values'
            WHEN sn_model IS DISTINCT FROM model_in_force
                THEN 'neighbour model ' || sn_model || ' is not the one in force, ' || coalesce(model_in_force, 'none')
        END AS problem
    FROM expected
)
SELECT la_name, collection_year, measure, value, quartile_band, national_rank, problem
FROM problems
WHERE problem IS NOT NULL
ORDER BY collection_year, measure, la_name;
