-- Postings invalidated as stale are the only ones a new sighting can bring back;
-- this small partial index lets each ingest batch find them without a scan.
CREATE INDEX postings_stale_idx ON postings (refnr) WHERE invalidated_reason = 'stale';
