-- Match explanations the LLM wrote (ty_web/explanations.py), one kept per match: the key is the sha256 of what it
-- was written from (the profile's facts, the posting's title, label and summary, the match's score facts) with the
-- model and the prompt's version, so a changed profile, posting, model or prompt makes a new one (it replaces the
-- row). Asking again for an unchanged one costs no model call and no rate limit. Template explanations are made
-- on every request and not kept. The rows are the user's data: they go with the match (a refresh replaces
-- unrated matches) and with the account, and the GDPR export lists them.
CREATE TABLE match_explanations (
    match_id        bigint PRIMARY KEY REFERENCES matches (id) ON DELETE CASCADE,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    input_hash      text NOT NULL CHECK (input_hash ~ '^[0-9a-f]{64}$'),
    model           text NOT NULL,
    prompt_version  text NOT NULL,
    explanation     jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX match_explanations_user_id_idx ON match_explanations (user_id);
