-- Web-search enrichment, the label cascade's last stage (ty_resources/websearch.py, ty_resources/classifier.py).
-- What a query's search answered, as snippets (title, url, content, engine; bounded, http(s) URLs only), reused
-- for TY_WEB_SEARCH_CACHE_DAYS. Failures are never stored here.
CREATE TABLE web_search_cache (
    query      text NOT NULL,
    backend    text NOT NULL,               -- 'searxng'
    results    jsonb NOT NULL,              -- [{title, url, content, engine}]
    fetched_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (query, backend)
);

-- Method 'web': the LLM chose the label from the title's candidates with the search's snippets.
ALTER TABLE title_labels DROP CONSTRAINT title_labels_method_check;
ALTER TABLE title_labels ADD CONSTRAINT title_labels_method_check
    CHECK (method IN ('exact', 'typo', 'retrieval', 'llm', 'enriched', 'web'));
-- What the web stage saw: {query, backend, cached, urls, candidates, support: [{n, url}]} when it asked the
-- LLM, {query, backend, urls: []} when the search found nothing, {query, backend, error} when the search failed
-- (the title then stays open for the web stage); NULL when the stage did not run.
ALTER TABLE title_labels ADD COLUMN evidence jsonb;  -- the web stage's query, URLs and supporting snippets, or its error
-- The prompt (ty_resources/prompts: Prompt.version, name@number:sha8) of the LLM answer that decided the label;
-- NULL when no LLM did. A label of an LLM prompt whose version changed is 'revised' (ty_resources/labels.py).
ALTER TABLE title_labels ADD COLUMN prompt_version text;  -- the deciding LLM answer's prompt (name@number:sha8)
