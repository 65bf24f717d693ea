-- The postings a check looks at: those of the checked partition's day, or all active ones outside a partitioned run.
SELECT count(*) AS postings,
       count(*) FILTER (WHERE p.berufenet_id IS NOT NULL) AS labelled,
       count(*) FILTER (WHERE p.label_source = 'beruf') AS by_beruf,
       {statuses}
FROM postings p LEFT JOIN title_labels l ON l.title_key = p.title_normalized
WHERE p.invalidated_at IS NULL AND (%(day)s::date IS NULL OR p.last_seen = %(day)s)
