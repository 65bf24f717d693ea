-- Web-search enrichment, the label cascade's last stage (ty_resources/websearch.py, ty_resources/classifier.py).
-- What a query's search answered, as snippets (title, url, content, engine; bounded, http(s) URLs only), reused
-- for TY_WEB_SEARCH_CACHE_DAYS. Failures and empty answers are never stored here.
CREATE TABLE web_search_cache (
    query      text NOT NULL,
    backend    text NOT NULL,               -- 'searxng'
    results    jsonb NOT NULL,              -- [{title, url, content, engine}]
    fetched_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (query, backend)
);

-- A query's failed searches in a row (reset by an answer): the web stage stores the count in the label's evidence
-- ('attempts'), and a title is opened again for the web stage only while it is below WEB_ATTEMPTS
-- (ty_resources/labels.py), so a search that keeps failing does not re-run the whole cascade every run.
CREATE TABLE web_search_failures (
    query      text NOT NULL,
    backend    text NOT NULL,
    failures   integer NOT NULL CHECK (failures > 0),
    last_error text,
    failed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (query, backend)
);

-- Method 'web': the LLM chose the label from the title's candidates with the search's snippets.
-- NOT VALID: no scan of title_labels under the ACCESS EXCLUSIVE lock this takes. Every stored row already passed
-- the old constraint, a subset of this one. (A VALIDATE CONSTRAINT here would scan under that same lock: a
-- migration is one transaction. A later migration may validate it in its own, under SHARE UPDATE EXCLUSIVE.)
ALTER TABLE title_labels DROP CONSTRAINT title_labels_method_check;
ALTER TABLE title_labels ADD CONSTRAINT title_labels_method_check
    CHECK (method IN ('exact', 'typo', 'retrieval', 'llm', 'enriched', 'web')) NOT VALID;
-- What the web stage saw: {query, backend, cached, urls, candidates, support: [{n, url}]} when it asked the
-- LLM, {query, backend, urls: []} when the search found nothing, {query, backend, error, attempts} when the search
-- failed (the title then stays open for the web stage while attempts < WEB_ATTEMPTS); NULL when it did not run.
ALTER TABLE title_labels ADD COLUMN evidence jsonb;  -- the web stage's query, URLs and supporting snippets, or its error
-- The prompt (ty_resources/prompts: Prompt.version, name@number:sha8) of the LLM answer that decided the label;
-- NULL when no LLM did. A label of an LLM prompt whose version changed is 'revised' (ty_resources/labels.py).
ALTER TABLE title_labels ADD COLUMN prompt_version text;  -- the deciding LLM answer's prompt (name@number:sha8)
