INSERT INTO matches (user_id, refnr, score, components, kldb_code, computed_at)
SELECT %(user_id)s, m.refnr, m.score, m.components, m.kldb_code, %(now)s
FROM unnest(%(refnrs)s::text[], %(scores)s::real[], %(components)s::jsonb[], %(codes)s::text[])
     AS m (refnr, score, components, kldb_code)
ON CONFLICT (user_id, refnr) DO UPDATE
    SET score = EXCLUDED.score, components = EXCLUDED.components, kldb_code = EXCLUDED.kldb_code,
        computed_at = EXCLUDED.computed_at
    WHERE matches.rating IS NULL
