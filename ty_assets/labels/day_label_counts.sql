-- The postings a check looks at: the checked partition's day's postings (as the labels asset takes them:
-- ty_assets.postings.DAY_POSTINGS_SQL), or all active ones outside a partitioned run.
SELECT count(*) AS postings,
       count(*) FILTER (WHERE p.berufenet_id IS NOT NULL) AS labelled,
       count(*) FILTER (WHERE p.label_source = 'beruf') AS by_beruf,
       {statuses}
FROM postings p LEFT JOIN title_labels l ON l.title_key = p.title_normalized
WHERE CASE WHEN %(day)s::date IS NULL THEN p.invalidated_at IS NULL ELSE {day_postings} END
