"""The talent.yoga asset graph: assets, checks, jobs, schedules, sensors and their Dagster resources."""
