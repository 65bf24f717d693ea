-- One row per reason a title is open (NULL: settled); a title key has one label, so one reason.
SELECT {open_reason} AS reason,
       count(DISTINCT p.title_normalized) AS titles,
       count(*) FILTER (WHERE p.berufenet_id IS NULL) AS unlabelled_postings
FROM postings p LEFT JOIN title_labels l ON l.title_key = p.title_normalized
WHERE p.invalidated_at IS NULL
GROUP BY 1
