-- Keep the LLM's explanation of one of the user's matches (one per match: a newer one replaces it), with the key
-- of what it was written from (ty_web.explanations.explanation_key), its model and prompt version.
INSERT INTO match_explanations (match_id, user_id, input_hash, model, prompt_version, explanation)
SELECT id, user_id, %(key)s, %(model)s, %(version)s, %(explanation)s
FROM matches WHERE id = %(id)s AND user_id = %(user_id)s
ON CONFLICT (match_id) DO UPDATE SET input_hash = EXCLUDED.input_hash, model = EXCLUDED.model,
    prompt_version = EXCLUDED.prompt_version, explanation = EXCLUDED.explanation, created_at = now()
