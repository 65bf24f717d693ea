-- Stale postings (ty_assets/postings/ingest.py): a posting's stale day is the first trusted crawl day at least
-- TY_STALE_DAYS after its last sighting, the day a run of the days in order invalidates it. Recomputed for the
-- postings already stale too, so a trusted day ingested later (an older day backfilled after newer ones) moves
-- it to where the days in order put it; a stale posting no trusted day covers any more comes back.
-- The outer WHERE repeats what the CTE read (last_seen, the state): a sighting another run commits meanwhile is
-- not overwritten (PostgreSQL re-checks it on the row's new version).
WITH due AS (
    SELECT p.refnr, p.last_seen,
           (SELECT min(c.day) FROM crawls c
            WHERE c.trusted AND c.day >= p.last_seen + %(stale_days)s::integer) AS day
    FROM postings p
    WHERE (p.invalidated_at IS NULL OR p.invalidated_reason = 'stale')
      AND p.last_seen <= (SELECT max(day) FROM crawls WHERE trusted) - %(stale_days)s::integer
)
UPDATE postings p
SET invalidated_at = CASE WHEN due.day IS NULL THEN NULL ELSE coalesce(p.invalidated_at, now()) END,
    invalidated_on = due.day,
    invalidated_reason = CASE WHEN due.day IS NULL THEN NULL ELSE 'stale' END
FROM due
WHERE due.refnr = p.refnr AND p.last_seen = due.last_seen
  AND (p.invalidated_at IS NULL OR p.invalidated_reason = 'stale')
  AND p.invalidated_on IS DISTINCT FROM due.day
