-- The same figures straight from postings, written differently on purpose (a date
-- range per posting instead of the snapshot's comparisons, no join, no grouping):
-- what the snapshot's check compares against.
SELECT count(*) FILTER (WHERE daterange(first_seen, invalidated_on, '[)') @> %(day)s::date),
       count(*) FILTER (WHERE first_seen = %(day)s::date),
       count(*) FILTER (WHERE invalidated_on = %(day)s::date),
       count(*) FILTER (WHERE daterange(first_seen, invalidated_on, '[)') @> %(day)s::date
                          AND berufenet_id IS NULL)
FROM postings
