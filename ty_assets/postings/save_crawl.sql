INSERT INTO crawls (day, source, plan, planned, fetched, coverage, complete, trusted, stats)
VALUES (%(day)s, %(source)s, %(plan)s, %(planned)s, %(fetched)s, %(coverage)s, %(complete)s, %(trusted)s, %(stats)s)
ON CONFLICT (day) DO UPDATE
SET source = EXCLUDED.source,
    plan = EXCLUDED.plan,  -- NULL after a failed run: the next starts from the last plan that worked
    planned = EXCLUDED.planned,
    fetched = EXCLUDED.fetched,
    coverage = EXCLUDED.coverage,
    complete = EXCLUDED.complete,
    trusted = EXCLUDED.trusted,
    stats = EXCLUDED.stats,
    finished_at = now()
