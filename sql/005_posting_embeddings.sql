-- One vector per posting and embedding model. Models differ in dimension, so the
-- column is an untyped vector; the asset creates one HNSW (cosine) index per model
-- on (embedding::vector(D)) WHERE model = '<model>', which nearest-neighbour
-- queries use when they repeat that cast and filter and order by <=> ascending.
CREATE TABLE posting_embeddings (
    refnr        text NOT NULL REFERENCES postings (refnr),
    model        text NOT NULL,
    dimension    integer NOT NULL CHECK (dimension > 0),
    text_hash    text NOT NULL,            -- md5 of the embedded text: re-embed only when it changes
    embedding    vector NOT NULL,
    embedded_at  timestamptz NOT NULL,
    PRIMARY KEY (refnr, model),
    CHECK (vector_dims(embedding) = dimension)
);
