-- The web API under attack (issue 16): rate limits every web worker shares, login throttling that spares the
-- owner's own devices, and the account lifecycle (e-mail verification, password reset, session idle timeout).

-- Rate limits (ty_web/ratelimit.py): one row per bucket and key (a user id, a client address), holding GCRA's
-- theoretical arrival time. A row whose tat has passed means the same as no row, and is pruned.
CREATE TABLE rate_limits (
    bucket  text NOT NULL,
    key     text NOT NULL,
    tat     timestamptz NOT NULL,
    PRIMARY KEY (bucket, key)
);
CREATE INDEX rate_limits_tat_idx ON rate_limits (tat);

-- Browsers and clients that signed in to an account before (cookie `ty_device`, only its sha256 here): a login
-- from one of them is not slowed by failures from elsewhere (ty_web/security.py, LoginThrottle).
CREATE TABLE known_devices (
    token_hash    text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX known_devices_user_id_idx ON known_devices (user_id);

-- An attempt made from a known device of the account it named carries the device's hash: its failures slow down
-- only that device, never the account or the address for others.
ALTER TABLE login_attempts ADD COLUMN device text CHECK (device ~ '^[0-9a-f]{64}$');
CREATE INDEX login_attempts_device_idx ON login_attempts (device, attempted_at) WHERE NOT succeeded;

-- E-mail verification: an account signs in once its owner followed the link sent to the address. Accounts made
-- before verification existed count as verified.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
UPDATE users SET email_verified_at = created_at;
-- When the owner was last told that logins to the account are being slowed down (at most one e-mail a window).
ALTER TABLE users ADD COLUMN throttle_notified_at timestamptz;

-- Single-use, expiring tokens sent by e-mail: verify the address, reset the password. Only the sha256 is kept.
CREATE TABLE account_tokens (
    token_hash  text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX account_tokens_user_id_idx ON account_tokens (user_id, purpose);
CREATE INDEX account_tokens_expires_at_idx ON account_tokens (expires_at);

-- Sessions are listed and ended one by one (GET/DELETE /auth/sessions/{id}): a public id that is not the token's
-- hash. The client's user agent, cut short, helps the owner recognise a session.
ALTER TABLE sessions ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY UNIQUE;
ALTER TABLE sessions ADD COLUMN user_agent text CHECK (length(user_agent) <= 200);

-- Cover letters the LLM wrote, one per match, with the hash of what it was written from (the posting and the
-- profile's facts): asking again costs no model call and no rate limit; a changed profile writes a new one.
CREATE TABLE cover_letters (
    match_id    bigint PRIMARY KEY REFERENCES matches (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    facts_hash  text NOT NULL CHECK (facts_hash ~ '^[0-9a-f]{64}$'),
    letter      jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cover_letters_user_id_idx ON cover_letters (user_id);
