INSERT INTO crawls (day, source, plan, planned, fetched, coverage, complete, stats)
VALUES (%(day)s, %(source)s, %(plan)s, %(planned)s, %(fetched)s, %(coverage)s, %(complete)s, %(stats)s)
ON CONFLICT (day) DO UPDATE
SET source = EXCLUDED.source,
    -- a failed re-run keeps the plan it started from when it learnt nothing new
    plan = coalesce(EXCLUDED.plan, crawls.plan),
    planned = EXCLUDED.planned,
    fetched = EXCLUDED.fetched,
    coverage = EXCLUDED.coverage,
    complete = EXCLUDED.complete,
    stats = EXCLUDED.stats,
    finished_at = now()
