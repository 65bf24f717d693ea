-- The postings nearest to the query vector among one model's vectors, after the profile's filters, nearest first.
-- ty_resources/vector_index.py fills in the distance, the join and the filters; the ORDER BY must be the HNSW
-- index's own expression, ascending, for the index to serve it.
WITH nearest AS MATERIALIZED (
    SELECT e.refnr, {distance} AS distance, p.berufenet_id, pr.kldb_code
    FROM posting_embeddings e
    JOIN postings p ON p.refnr = e.refnr
    {join} professions pr ON pr.berufenet_id = p.berufenet_id
    WHERE {filters}
    ORDER BY {distance}
    LIMIT %(limit)s
)
SELECT refnr, 1 - distance AS similarity, berufenet_id, kldb_code FROM nearest ORDER BY distance, refnr
