-- The day's postings take their label: the BA's `beruf` when it names an active catalogue title exactly
-- (label_source 'beruf'), else their title key's label when it is matched ('title'), else none.
-- Rows that would not change are not touched.
UPDATE postings p
SET berufenet_id = v.berufenet_id, label_source = v.source
FROM (
    SELECT p2.refnr,
           coalesce(b.berufenet_id, CASE WHEN l.status = 'matched' THEN l.berufenet_id END) AS berufenet_id,
           CASE WHEN b.berufenet_id IS NOT NULL THEN 'beruf'
                WHEN l.status = 'matched' THEN 'title' END AS source
    FROM postings p2
    LEFT JOIN title_labels l ON l.title_key = p2.title_normalized
    LEFT JOIN LATERAL (SELECT min(berufenet_id) AS berufenet_id FROM professions
                       WHERE active AND name = p2.beruf) b ON true
    WHERE p2.last_seen = %(day)s
) v
WHERE p.refnr = v.refnr
  AND (p.berufenet_id, p.label_source) IS DISTINCT FROM (v.berufenet_id, v.source)
