-- The web API's tables (ty_web): accounts, server-side sessions, the login rate
-- limit, profiles, work history, CV drafts, matches with ratings, and the
-- negative filter. Every personal row references users (id) ON DELETE CASCADE,
-- so deleting an account is one statement in one transaction (GDPR); the only
-- exception is login_attempts, keyed by the e-mail an attempt named (the account
-- may not exist), which DELETE /account removes by that e-mail in the same
-- transaction.

CREATE TABLE users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND email = btrim(email)),
    password_hash  text NOT NULL,              -- argon2id, PHC string ($argon2id$v=19$...)
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz
);
-- One account per address, whatever its case; lookups use lower(email).
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Login sessions (cookie `ty_session`) and API bearer tokens. Only the sha256 of
-- a token is stored (and of a cookie session's CSRF token): a copy of this table
-- lets nobody sign in.
CREATE TABLE sessions (
    token_hash       text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('cookie', 'bearer')),
    csrf_token_hash  text CHECK (csrf_token_hash ~ '^[0-9a-f]{64}$'),
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    last_used_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'cookie') = (csrf_token_hash IS NOT NULL)),
    CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- Login attempts for the rate limit: failures per account and per client address
-- within TY_LOGIN_WINDOW_S. `account` is the lower-cased e-mail as typed, whether
-- or not such an account exists. Rows older than the window are pruned on login.
CREATE TABLE login_attempts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account       text,
    address       text NOT NULL,
    succeeded     boolean NOT NULL DEFAULT false,
    attempted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_account_idx ON login_attempts (account, attempted_at) WHERE NOT succeeded;
CREATE INDEX login_attempts_address_idx ON login_attempts (address, attempted_at) WHERE NOT succeeded;
CREATE INDEX login_attempts_attempted_at_idx ON login_attempts (attempted_at);

-- What a job seeker looks for. Desired professions are BERUFENET ids (an array
-- cannot carry a foreign key: the API checks them against professions).
CREATE TABLE profiles (
    user_id                bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    display_name           text CHECK (length(display_name) <= 100),
    desired_berufenet_ids  text[] NOT NULL DEFAULT '{}'
                           CHECK (cardinality(desired_berufenet_ids) <= 20),
    states                 text[] NOT NULL DEFAULT '{}' CHECK (states <@ ARRAY[
                               'Baden-Württemberg', 'Bayern', 'Berlin', 'Brandenburg', 'Bremen', 'Hamburg',
                               'Hessen', 'Mecklenburg-Vorpommern', 'Niedersachsen', 'Nordrhein-Westfalen',
                               'Rheinland-Pfalz', 'Saarland', 'Sachsen', 'Sachsen-Anhalt', 'Schleswig-Holstein',
                               'Thüringen', 'Ausland']::text[]),
    levels                 smallint[] NOT NULL DEFAULT '{}' CHECK (levels <@ ARRAY[1, 2, 3, 4]::smallint[]),
    skills                 text[] NOT NULL DEFAULT '{}' CHECK (cardinality(skills) <= 50),
    summary                text CHECK (length(summary) <= 5000),
    email_consent          boolean NOT NULL DEFAULT false,
    updated_at             timestamptz NOT NULL DEFAULT now()
);

-- Work history; each title is classified into the catalogue when it is written.
CREATE TABLE work_history (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    employer      text CHECK (length(employer) <= 200),
    start_date    date NOT NULL,
    end_date      date,                        -- NULL: current position
    description   text CHECK (length(description) <= 5000),
    source        text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'cv')),
    berufenet_id  text REFERENCES professions (berufenet_id),
    kldb_code     text CHECK (kldb_code ~ '^[0-9]{5}$'),
    -- the classifier's statuses (as in title_labels), or 'unclassified' when no catalogue was loaded
    label_status  text NOT NULL CHECK (label_status IN
                      ('matched', 'no_match', 'llm_uncertain', 'llm_no', 'error', 'pending_llm', 'unclassified')),
    label_score   real,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (end_date >= start_date),
    CHECK ((label_status = 'matched') = (berufenet_id IS NOT NULL)),
    CHECK ((berufenet_id IS NULL) = (kldb_code IS NULL) AND kldb_code = left(berufenet_id, 5))
);
CREATE INDEX work_history_user_id_idx ON work_history (user_id, start_date DESC);

-- A CV upload, parsed: only its anonymised text and the parsed draft are kept,
-- never the file. Imported (imported_at set) once the user confirmed it.
CREATE TABLE cv_drafts (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename_kind    text NOT NULL CHECK (filename_kind IN ('pdf', 'docx', 'text')),  -- detected from the content
    anonymised_text  text NOT NULL,
    draft            jsonb NOT NULL,           -- {work_history: [...], education: [...], skills: [...]}
    created_at       timestamptz NOT NULL DEFAULT now(),
    imported_at      timestamptz
);
CREATE INDEX cv_drafts_user_id_idx ON cv_drafts (user_id, created_at DESC);

-- A user's matches with their score components, and the user's verdict on each.
CREATE TABLE matches (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refnr        text NOT NULL REFERENCES postings (refnr),
    score        real NOT NULL,
    components   jsonb NOT NULL DEFAULT '{}'::jsonb,   -- {similarity, profession_fit, ...}
    kldb_code    text CHECK (kldb_code ~ '^[0-9]{5}$'), -- the posting's profession when computed
    computed_at  timestamptz NOT NULL DEFAULT now(),
    rating       smallint CHECK (rating BETWEEN 1 AND 5),
    feedback     text CHECK (length(feedback) <= 2000),
    decision     text CHECK (decision IN ('apply', 'save', 'skip')),
    rated_at     timestamptz,
    UNIQUE (user_id, refnr),
    CHECK (rated_at IS NOT NULL OR (rating IS NULL AND feedback IS NULL AND decision IS NULL))
);
-- GET /matches (best first) and the unrated queue (GET /matches/next).
CREATE INDEX matches_user_score_idx ON matches (user_id, score DESC);
CREATE INDEX matches_unrated_idx ON matches (user_id, score DESC) WHERE rating IS NULL;

-- The negative filter: professions (KldB 5-digit) a user does not want to see,
-- set by a rating of 2 or less, undone by the user.
CREATE TABLE suppressions (
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kldb_code        text NOT NULL CHECK (kldb_code ~ '^[0-9]{5}$'),
    created_at       timestamptz NOT NULL DEFAULT now(),
    source_match_id  bigint REFERENCES matches (id) ON DELETE SET NULL,
    PRIMARY KEY (user_id, kldb_code)
);
CREATE INDEX suppressions_source_match_idx ON suppressions (source_match_id);
