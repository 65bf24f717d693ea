-- The lexical models learnt from the catalogue plus the BA's own labels (ty_resources/title_model.py): one
-- row per trained model, accepted or not, so the lineage keeps which model labelled which day. `model` (the
-- weights, an .npz) is kept for the models in use and the latest one only; older rows keep their evaluation.
CREATE TABLE title_models (
    version            text PRIMARY KEY,       -- a hash of what it learnt from: catalogue version and pairs
    catalogue_version  text NOT NULL,
    trained_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    labelled_postings  integer NOT NULL CHECK (labelled_postings >= 0),  -- postings whose beruf it saw
    train_pairs        integer NOT NULL CHECK (train_pairs >= 0),
    held_out_pairs     integer NOT NULL CHECK (held_out_pairs >= 0),
    compared_with      text NOT NULL,          -- the model in use when it was evaluated
    metrics            jsonb NOT NULL,         -- {"candidate": {...}, "in_use": {...}, ...} on the same held-out pairs
    accepted           boolean NOT NULL,       -- not worse than the model in use (title_model.verdict)
    verdict            text NOT NULL,          -- why, in words
    model              bytea                   -- NULL once superseded
);
CREATE INDEX title_models_in_use_idx ON title_models (catalogue_version, trained_at DESC) WHERE accepted;
