-- The profession catalogue: KldB 2010 (V. 2020) codes and the BERUFENET
-- job titles (Berufsbenennungen) that belong to them.

-- One row per catalogue file loaded; labels record the version they were made with.
CREATE TABLE catalogue_versions (
    version      text PRIMARY KEY,             -- e.g. 'KldB2010-V2020-3f1c2a9b0d4e'
    source       text NOT NULL,                -- file path or API URL it came from
    sha256       text NOT NULL,
    professions  integer NOT NULL,
    codes        integer NOT NULL,
    loaded_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE kldb_codes (
    code         text PRIMARY KEY,
    level        smallint NOT NULL CHECK (level BETWEEN 1 AND 5),
    title        text NOT NULL,
    short_title  text NOT NULL,
    remarks      text NOT NULL DEFAULT '',     -- "Allgemeine Bemerkungen"
    description  text NOT NULL DEFAULT '',     -- "Einschlüsse": the activities, entities decoded
    parent_code  text REFERENCES kldb_codes (code) DEFERRABLE INITIALLY DEFERRED,
    active       boolean NOT NULL DEFAULT true,
    catalogue_version text NOT NULL REFERENCES catalogue_versions (version),
    CHECK (code ~ '^[0-9]+$' AND length(code) = level),
    CHECK ((level = 1) = (parent_code IS NULL))
);
CREATE INDEX kldb_codes_level_idx ON kldb_codes (level) WHERE active;

CREATE TABLE professions (
    berufenet_id  text PRIMARY KEY CHECK (berufenet_id ~ '^[0-9]{5}-[0-9]{3}$'),
    name          text NOT NULL,               -- as printed: 'Kaufmann/-frau - Büromanagement'
    name_male     text NOT NULL,               -- 'Kaufmann - Büromanagement'
    name_female   text NOT NULL,               -- 'Kauffrau - Büromanagement'
    kldb_code     text NOT NULL REFERENCES kldb_codes (code) DEFERRABLE INITIALLY DEFERRED,
    level         smallint NOT NULL CHECK (level BETWEEN 1 AND 4),  -- Anforderungsniveau, 5th digit
    is_supervisor boolean NOT NULL,            -- 4th digit 9: Aufsichts-/Führungskräfte
    domain_code   text NOT NULL,               -- Berufshauptgruppe, 2 digits
    active        boolean NOT NULL DEFAULT true,  -- false: gone from the current catalogue
    catalogue_version text NOT NULL REFERENCES catalogue_versions (version),
    CHECK (left(berufenet_id, 5) = kldb_code),
    CHECK (domain_code = left(kldb_code, 2))
);
CREATE INDEX professions_kldb_code_idx ON professions (kldb_code);
CREATE INDEX professions_domain_idx ON professions (domain_code) WHERE active;

-- "Ausschlüsse": titles a code's row names as belonging to another code.
-- Hard negatives for the classifier: 'Game Programmer' is not 43414 but 43423.
CREATE TABLE profession_exclusions (
    excluded_from_code text NOT NULL REFERENCES kldb_codes (code) DEFERRABLE INITIALLY DEFERRED,
    title              text NOT NULL,
    belongs_to_code    text NOT NULL,
    catalogue_version  text NOT NULL REFERENCES catalogue_versions (version),
    PRIMARY KEY (excluded_from_code, title, belongs_to_code)
);
