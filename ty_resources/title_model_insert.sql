-- One trained model with its evaluation (ty_resources.title_model.store); training the same pairs again
-- evaluates it again.
INSERT INTO title_models (version, catalogue_version, labelled_postings, train_pairs, held_out_pairs,
                          compared_with, metrics, accepted, verdict, model)
VALUES (%(version)s, %(catalogue_version)s, %(labelled_postings)s, %(train_pairs)s, %(held_out_pairs)s,
        %(compared_with)s, %(metrics)s, %(accepted)s, %(verdict)s, %(model)s)
ON CONFLICT (version) DO UPDATE
SET trained_at = clock_timestamp(), labelled_postings = excluded.labelled_postings,
    held_out_pairs = excluded.held_out_pairs, compared_with = excluded.compared_with,
    metrics = excluded.metrics, accepted = excluded.accepted, verdict = excluded.verdict, model = excluded.model
