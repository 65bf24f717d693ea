-- profession_similarity per day (the `profession_similarity` asset is a daily partition): the neighbours of day D
-- are computed from the postings active on D, and every day is kept, so "which professions came closer" can be
-- read over time. Rows computed before this migration belong to the Berlin day they were computed on.
ALTER TABLE profession_similarity ADD COLUMN day date;
UPDATE profession_similarity SET day = (computed_at AT TIME ZONE 'Europe/Berlin')::date;
ALTER TABLE profession_similarity ALTER COLUMN day SET NOT NULL;
ALTER TABLE profession_similarity DROP CONSTRAINT profession_similarity_pkey,
                                  DROP CONSTRAINT profession_similarity_kldb_code_rank_key;
ALTER TABLE profession_similarity ADD PRIMARY KEY (day, kldb_code, neighbour_code),
                                  ADD UNIQUE (day, kldb_code, rank);
DROP INDEX profession_similarity_neighbour_idx;
-- "Who has me as a neighbour" on a day.
CREATE INDEX profession_similarity_neighbour_idx ON profession_similarity (neighbour_code, day);

-- What the service reads: the latest day computed (max(day) is one step down the primary key).
CREATE VIEW profession_similarity_latest AS
SELECT * FROM profession_similarity
WHERE day = (SELECT max(day) FROM profession_similarity);
