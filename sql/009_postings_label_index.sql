-- Active postings by their label: the posting count of GET /professions/{id}, the domains view and the
-- demand recount look postings up by berufenet_id; without this each such count reads the whole table.
CREATE INDEX postings_active_berufenet_idx ON postings (berufenet_id) WHERE invalidated_at IS NULL;
