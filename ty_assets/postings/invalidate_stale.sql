-- Stale postings (ty_assets/postings/ingest.py): invalidated on the first trusted crawl day at least
-- TY_STALE_DAYS after the last sighting (the day a run of the days in order invalidates it).
WITH due AS (
    SELECT p.refnr,
           (SELECT min(c.day) FROM crawls c
            WHERE c.trusted AND c.day >= p.last_seen + %(stale_days)s::integer) AS day
    FROM postings p
    WHERE p.invalidated_at IS NULL
      AND p.last_seen <= (SELECT max(day) FROM crawls WHERE trusted) - %(stale_days)s::integer
)
UPDATE postings p
SET invalidated_at = now(), invalidated_on = due.day, invalidated_reason = 'stale'
FROM due
WHERE due.refnr = p.refnr AND due.day IS NOT NULL
