-- Market views: demand per day, profession, state and qualification level; which
-- professions (KldB 5-digit codes) resemble each other; the domains dimension.

-- One row per day x profession (BERUFENET title) x state, written by the daily
-- `demand_snapshot` asset (delete the day + insert, one transaction). Postings
-- without a label land in the NULL bucket (kldb_code, berufenet_id, domain_code,
-- level all NULL), so a day's rows add up to all its postings. The KldB code,
-- domain and level follow from the title; they are stored for grouping.
CREATE TABLE demand_snapshots (
    day                  date NOT NULL,          -- the partition day D
    kldb_code            text,                   -- 5 digits; NULL: unlabelled
    berufenet_id         text,                   -- the postings' label; NULL: unlabelled
    domain_code          text,                   -- Berufshauptgruppe, 2 digits
    level                smallint,               -- Anforderungsniveau 1-4
    state                text NOT NULL,
    active_postings      integer NOT NULL CHECK (active_postings >= 0),       -- active on D
    new_postings         integer NOT NULL CHECK (new_postings >= 0),          -- first_seen = D
    invalidated_postings integer NOT NULL CHECK (invalidated_postings >= 0),  -- invalidated_on = D
    computed_at          timestamptz NOT NULL DEFAULT now(),
    -- One row per bucket, the unlabelled (NULL) one included: NULLS NOT DISTINCT (PostgreSQL 15+).
    CONSTRAINT demand_snapshots_bucket_key UNIQUE NULLS NOT DISTINCT (day, berufenet_id, state),
    CHECK ((berufenet_id IS NULL) = (kldb_code IS NULL)),
    CHECK (kldb_code = left(berufenet_id, 5)),
    CHECK (domain_code = left(kldb_code, 2)),
    CHECK ((kldb_code IS NULL) = (domain_code IS NULL) AND (kldb_code IS NULL) = (level IS NULL))
);
-- A profession's or a domain's time series.
CREATE INDEX demand_snapshots_code_day_idx ON demand_snapshots (kldb_code, day);
CREATE INDEX demand_snapshots_domain_day_idx ON demand_snapshots (domain_code, day);

-- Top-k neighbours per KldB 5-digit code by cosine similarity of the codes' vectors:
-- the normalised centroid of their active postings' embeddings where there are
-- enough postings, else the embedding of the code's catalogue text (basis).
-- Replaced as a whole by the `profession_similarity` asset, in one transaction.
-- No self pairs and scores in [-1, 1] are asset checks of that asset.
CREATE TABLE profession_similarity (
    kldb_code        text NOT NULL REFERENCES kldb_codes (code),
    neighbour_code   text NOT NULL REFERENCES kldb_codes (code),
    rank             smallint NOT NULL CHECK (rank >= 1),           -- 1 = most similar
    score            double precision NOT NULL,                    -- cosine similarity
    basis            text NOT NULL CHECK (basis IN ('postings', 'catalogue')),
    neighbour_basis  text NOT NULL CHECK (neighbour_basis IN ('postings', 'catalogue')),
    postings         integer NOT NULL CHECK (postings >= 0),      -- postings in kldb_code's centroid
    model            text NOT NULL,                                -- the embedding model of both vectors
    computed_at      timestamptz NOT NULL,
    PRIMARY KEY (kldb_code, neighbour_code),
    UNIQUE (kldb_code, rank)
);
-- "Who has me as a neighbour".
CREATE INDEX profession_similarity_neighbour_idx ON profession_similarity (neighbour_code);

-- The 37 Berufshauptgruppen (KldB level 2) as a dimension: a view, so it is in step
-- with the catalogue the moment berufenet_catalogue commits (no asset to forget, no
-- copy to go stale), and its posting counts are those of now. Active postings are
-- counted through their label's title (professions.domain_code); unlabelled
-- postings belong to no domain.
CREATE VIEW domains AS
SELECT k.code,
       k.title                           AS name,
       k.short_title,
       coalesce(t.professions, 0)        AS professions,
       coalesce(a.active_postings, 0)    AS active_postings
FROM kldb_codes k
LEFT JOIN (SELECT domain_code, count(*) AS professions
           FROM professions WHERE active GROUP BY domain_code) t ON t.domain_code = k.code
LEFT JOIN (SELECT pr.domain_code, count(*) AS active_postings
           FROM postings p JOIN professions pr ON pr.berufenet_id = p.berufenet_id
           WHERE p.invalidated_at IS NULL
           GROUP BY pr.domain_code) a ON a.domain_code = k.code
WHERE k.level = 2 AND k.active;
