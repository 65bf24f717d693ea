-- berufenet_labels' preview: titles per label status, of all titles and of the day's.
WITH day_keys AS (SELECT DISTINCT p.title_normalized AS title_key FROM postings p WHERE {day_postings})
SELECT l.status, count(*)::int AS titles, count(d.title_key)::int AS of_the_day
FROM title_labels l LEFT JOIN day_keys d USING (title_key)
GROUP BY l.status
ORDER BY titles DESC, l.status
