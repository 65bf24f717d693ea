-- Merge the staged batch (_stage_postings, one row per refnr) into postings.
-- first_seen/last_seen widen; the content follows the newest sighting; a posting
-- invalidated as stale comes back when a sighting shows it was not missing
-- TY_STALE_DAYS days in a row before its invalidation day (seen again later, or an
-- earlier day re-run or backfilled after the invalidating one).
-- Rows that would not change are not touched, so a re-run writes nothing.
WITH merged AS (
INSERT INTO postings AS p (
    refnr, title, title_normalized, beruf, employer, state, plz, city, lat, lon,
    published_on, entry_date, modified_at, external_url, offer_type, raw, first_seen, last_seen)
SELECT refnr, title, title_normalized, beruf, employer, state, plz, city, lat, lon,
       published_on, entry_date, modified_at, external_url, offer_type, raw, first_seen, last_seen
FROM _stage_postings
ORDER BY refnr  -- rows locked in key order: two runs merging overlapping days wait for each other, never deadlock
ON CONFLICT (refnr) DO UPDATE SET
    title = CASE WHEN EXCLUDED.last_seen >= p.last_seen THEN EXCLUDED.title ELSE p.title END,
    title_normalized = CASE WHEN EXCLUDED.last_seen >= p.last_seen THEN EXCLUDED.title_normalized ELSE p.title_normalized END,
    beruf = CASE WHEN EXCLUDED.last_seen >= p.last_seen THEN EXCLUDED.beruf ELSE p.beruf END,
    employer = CASE WHEN EXCLUDED.last_seen >= p.last_seen THEN EXCLUDED.employer ELSE p.employer END,
    state = CASE WHEN EXCLUDED.last_seen >= p.last_seen THEN EXCLUDED.state ELSE p.state END,
    plz = CASE WHEN EXCLUDED.last_seen >= p.last_seen THEN EXCLUDED.plz ELSE p.plz END,
    city = CASE WHEN EXCLUDED.last_seen >= p.last_seen THEN EXCLUDED.city ELSE p.city END,
    lat = CASE WHEN EXCLUDED.last_seen >= p.last_seen THEN EXCLUDED.lat ELSE p.lat END,
    lon = CASE WHEN EXCLUDED.last_seen >= p.last_seen THEN EXCLUDED.lon ELSE p.lon END,
    published_on = CASE WHEN EXCLUDED.last_seen >= p.last_seen THEN EXCLUDED.published_on ELSE p.published_on END,
    entry_date = CASE WHEN EXCLUDED.last_seen >= p.last_seen THEN EXCLUDED.entry_date ELSE p.entry_date END,
    modified_at = CASE WHEN EXCLUDED.last_seen >= p.last_seen THEN EXCLUDED.modified_at ELSE p.modified_at END,
    external_url = CASE WHEN EXCLUDED.last_seen >= p.last_seen THEN EXCLUDED.external_url ELSE p.external_url END,
    offer_type = CASE WHEN EXCLUDED.last_seen >= p.last_seen THEN coalesce(EXCLUDED.offer_type, p.offer_type) ELSE p.offer_type END,
    raw = CASE WHEN EXCLUDED.last_seen >= p.last_seen THEN EXCLUDED.raw ELSE p.raw END,
    first_seen = LEAST(p.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(p.last_seen, EXCLUDED.last_seen),
    invalidated_at = CASE WHEN (p.invalidated_reason = 'stale' AND EXCLUDED.last_seen > p.invalidated_on - %(stale_days)s::integer) THEN NULL ELSE p.invalidated_at END,
    invalidated_on = CASE WHEN (p.invalidated_reason = 'stale' AND EXCLUDED.last_seen > p.invalidated_on - %(stale_days)s::integer) THEN NULL ELSE p.invalidated_on END,
    invalidated_reason = CASE WHEN (p.invalidated_reason = 'stale' AND EXCLUDED.last_seen > p.invalidated_on - %(stale_days)s::integer) THEN NULL ELSE p.invalidated_reason END
WHERE EXCLUDED.first_seen < p.first_seen
   OR EXCLUDED.last_seen > p.last_seen
   OR (p.invalidated_reason = 'stale' AND EXCLUDED.last_seen > p.invalidated_on - %(stale_days)s::integer)
   OR (EXCLUDED.last_seen = p.last_seen
       AND (p.title, p.beruf, p.employer, p.state, p.plz, p.city, p.lat, p.lon, p.published_on,
            p.entry_date, p.modified_at, p.external_url, p.offer_type, p.raw)
           IS DISTINCT FROM
           (EXCLUDED.title, EXCLUDED.beruf, EXCLUDED.employer, EXCLUDED.state, EXCLUDED.plz, EXCLUDED.city,
            EXCLUDED.lat, EXCLUDED.lon, EXCLUDED.published_on, EXCLUDED.entry_date, EXCLUDED.modified_at,
            EXCLUDED.external_url, coalesce(EXCLUDED.offer_type, p.offer_type), EXCLUDED.raw))
RETURNING (xmax = 0) AS inserted)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged
