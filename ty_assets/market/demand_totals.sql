SELECT count(*),
       coalesce(sum(active_postings), 0),
       coalesce(sum(new_postings), 0),
       coalesce(sum(invalidated_postings), 0),
       coalesce(sum(active_postings) FILTER (WHERE berufenet_id IS NULL), 0)
FROM demand_snapshots WHERE day = %(day)s
