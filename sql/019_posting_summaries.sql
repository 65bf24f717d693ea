-- Posting summaries (ty_assets/summaries/): one short structured summary per posting and model, and the BA
-- detail's own small fields that the summaries read beside the description.
ALTER TABLE posting_descriptions ADD COLUMN facts jsonb;  -- the BA detail's own small fields (arbeitszeitmodelle, befristung, verguetung, ...; never the description or addresses); NULL: fetched before

CREATE TABLE posting_summaries (
    refnr          text NOT NULL REFERENCES postings (refnr),  -- the posting
    model          text NOT NULL,   -- 'extractive', or the LLM model (e.g. 'qwen2.5:7b')
    status         text NOT NULL CHECK (status IN ('ok', 'error', 'skipped')),  -- skipped: no description
    summary        jsonb,           -- tasks, requirements, working_time, contract, salary, remote; NULL unless ok
    prompt_version text NOT NULL,   -- Prompt.version of the LLM prompt, or summaries.EXTRACTIVE_VERSION
    source_hash    text NOT NULL,   -- summaries.source_hash of the title, description and facts: re-made when it changes
    attempts       integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),  -- failed runs so far (reset on ok)
    last_error     text,            -- why the last run failed (status error)
    made_at        timestamptz NOT NULL DEFAULT now(),  -- when it was made (or last failed)
    PRIMARY KEY (refnr, model),
    CHECK ((status = 'ok') = (summary IS NOT NULL))
);
-- The failed summaries, for the health report and the error share of a model.
CREATE INDEX posting_summaries_error_idx ON posting_summaries (model) WHERE status = 'error';
