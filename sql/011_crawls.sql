-- One row per partition day of the postings asset: the query plan of the day's crawl and its numbers.
-- The next day's crawl starts from the latest plan (ty_resources.crawl), so a normal day needs few planning
-- requests; coverage = fetched / planned is what the postings_crawl_coverage check judges.
CREATE TABLE crawls (
    day          date PRIMARY KEY,
    source       text NOT NULL,
    plan         jsonb,                        -- ty_resources.crawl.Plan.to_json(); NULL for a snapshot
    planned      integer NOT NULL CHECK (planned >= 0),  -- sum of the roots' maxErgebnisse
    fetched      integer NOT NULL CHECK (fetched >= 0),  -- distinct postings fetched
    coverage     double precision NOT NULL,
    complete     boolean NOT NULL,             -- every query paged to its end, no request failed
    stats        jsonb NOT NULL,               -- CrawlStats.as_dict() and the problems in words
    finished_at  timestamptz NOT NULL DEFAULT now()
);

-- The BA offer type (angebotsart: 1 job, 2 self-employment, 4 apprenticeship/dual study, 34 internship/trainee),
-- per posting and as a dimension of the demand snapshot (NULL: not known, e.g. postings stored before).
ALTER TABLE postings ADD COLUMN offer_type smallint CHECK (offer_type IN (1, 2, 4, 34));
ALTER TABLE demand_snapshots ADD COLUMN offer_type smallint CHECK (offer_type IN (1, 2, 4, 34));
ALTER TABLE demand_snapshots DROP CONSTRAINT demand_snapshots_bucket_key;
ALTER TABLE demand_snapshots ADD CONSTRAINT demand_snapshots_bucket_key
    UNIQUE NULLS NOT DISTINCT (day, berufenet_id, state, offer_type);
