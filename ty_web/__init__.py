"""talent.yoga web API: reads the tables the asset graph materialised."""
