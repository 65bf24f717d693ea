-- One label per distinct normalised title, reused across partitions and days.
CREATE TABLE title_labels (
    title_key         text PRIMARY KEY,        -- = postings.title_normalized (ty_resources.titles.title_key)
    example_title     text NOT NULL,           -- a posting title with this key, as written
    status            text NOT NULL CHECK (status IN
                          ('matched', 'no_match', 'llm_uncertain', 'llm_no', 'error', 'pending_llm')),
    berufenet_id      text REFERENCES professions (berufenet_id),
    method            text CHECK (method IN ('exact', 'retrieval', 'llm', 'enriched')),
    score             real,                    -- fused retrieval score of the chosen (or best) candidate
    candidates        jsonb NOT NULL DEFAULT '[]'::jsonb,  -- [{berufenet_id, name, score, dense, lexical}]
    model             text,                    -- embedder and, where used, LLM that decided
    reason            text,                    -- the LLM's reason, or the error
    attempts          integer NOT NULL DEFAULT 0,          -- runs that ended in 'error'
    catalogue_version text NOT NULL,           -- a catalogue change re-opens the label
    labelled_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'matched') = (berufenet_id IS NOT NULL)),
    CHECK ((status = 'matched') = (method IS NOT NULL))
);
CREATE INDEX title_labels_open_idx ON title_labels (status) WHERE status IN ('error', 'pending_llm');

-- The posting's label: the BA's own `beruf` when it names a catalogue title exactly,
-- else its title's label.
ALTER TABLE postings
    ADD COLUMN berufenet_id text REFERENCES professions (berufenet_id),
    ADD COLUMN label_source text CHECK (label_source IN ('beruf', 'title'));

-- Postings whose BA `beruf` names a catalogue title exactly take that title: looked up by name.
CREATE INDEX professions_name_idx ON professions (name) WHERE active;
