-- The whole profile, replacing the stored one.
INSERT INTO profiles (user_id, display_name, desired_berufenet_ids, states, levels, skills, summary,
                      email_consent, updated_at)
VALUES (%(user_id)s, %(display_name)s, %(desired)s, %(states)s, %(levels)s::smallint[], %(skills)s,
        %(summary)s, %(consent)s, now())
ON CONFLICT (user_id) DO UPDATE SET
    display_name = EXCLUDED.display_name, desired_berufenet_ids = EXCLUDED.desired_berufenet_ids,
    states = EXCLUDED.states, levels = EXCLUDED.levels, skills = EXCLUDED.skills,
    summary = EXCLUDED.summary, email_consent = EXCLUDED.email_consent, updated_at = now()
