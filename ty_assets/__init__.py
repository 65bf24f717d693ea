"""The talent.yoga asset graph: assets, checks, jobs, schedules and the `ty` CLI."""
