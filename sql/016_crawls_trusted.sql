-- Whether a day's crawl counts as the whole market (complete, coverage within TY_MIN_CRAWL_COVERAGE and the
-- ceiling of ty_resources.crawl): staleness is measured against the trusted crawl days, whatever order the days
-- were ingested in (ty_assets/postings/ingest.py). Crawls recorded before: judged by the defaults (0.99, 1.05).
ALTER TABLE crawls ADD COLUMN trusted boolean NOT NULL DEFAULT false;
UPDATE crawls SET trusted = complete AND coverage BETWEEN 0.99 AND 1.05;
CREATE INDEX crawls_trusted_idx ON crawls (day) WHERE trusted;
