-- The BA's own labels as training pairs: per title key, each active catalogue title that the `beruf` of its
-- postings names exactly (the lowest id where two titles share a name, as postings take it), with how many
-- postings said so; the most frequent first. Withdrawn postings count: how a title was written does not expire.
WITH named AS (
    SELECT name, min(berufenet_id) AS berufenet_id FROM professions WHERE active GROUP BY name
)
SELECT p.title_normalized AS title_key, min(p.title) AS example_title, n.berufenet_id, pr.kldb_code,
       count(*)::integer AS postings
FROM postings p
JOIN named n ON n.name = p.beruf
JOIN professions pr ON pr.berufenet_id = n.berufenet_id
WHERE p.title_normalized <> ''
GROUP BY p.title_normalized, n.berufenet_id, pr.kldb_code
ORDER BY postings DESC, title_key, berufenet_id
