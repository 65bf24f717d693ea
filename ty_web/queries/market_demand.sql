-- Open, new and invalidated postings per day of a range, summed over the demand snapshot's buckets that
-- pass the caller's filters; days whose snapshot was never computed are left out. Whether a day has a snapshot is
-- one probe of the bucket key's index (day first), written as an ordered LIMIT 1: as EXISTS, PostgreSQL 18 chose a
-- skip scan of the (domain_code, day) index, ~37 probes for each day without rows (a year: 60 ms instead of 3 ms
-- at 250,000 postings).
WITH days AS (
    SELECT g::date AS day
    FROM generate_series(%(from)s::date, %(to)s::date, interval '1 day') g
    WHERE (SELECT true FROM demand_snapshots x WHERE x.day = g::date ORDER BY x.berufenet_id LIMIT 1)
)
SELECT days.day,
       coalesce(sum(d.active_postings), 0)::bigint AS active_postings,
       coalesce(sum(d.new_postings), 0)::bigint AS new_postings,
       coalesce(sum(d.invalidated_postings), 0)::bigint AS invalidated_postings
FROM days
LEFT JOIN demand_snapshots d ON d.day = days.day AND {filters}
GROUP BY days.day
ORDER BY days.day
