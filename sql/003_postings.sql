-- Job postings of the BA job search API, one row per refnr, never deleted.

CREATE TABLE postings (
    refnr              text PRIMARY KEY,
    title              text NOT NULL,
    title_normalized   text NOT NULL,        -- ty_resources.titles.title_key(title): the label's key
    beruf              text,                 -- the BA's own profession label, when given
    employer           text,
    state              text NOT NULL CHECK (state IN (
                           'Baden-Württemberg', 'Bayern', 'Berlin', 'Brandenburg', 'Bremen', 'Hamburg',
                           'Hessen', 'Mecklenburg-Vorpommern', 'Niedersachsen', 'Nordrhein-Westfalen',
                           'Rheinland-Pfalz', 'Saarland', 'Sachsen', 'Sachsen-Anhalt', 'Schleswig-Holstein',
                           'Thüringen', 'Ausland', 'unbekannt')),
    plz                text,
    city               text,
    lat                double precision,
    lon                double precision,
    published_on       date,
    entry_date         date,
    modified_at        timestamptz,
    external_url       text,
    raw                jsonb NOT NULL,       -- the item as the source returned it (last seen)
    first_seen         date NOT NULL,        -- partition day it was first fetched
    last_seen          date NOT NULL,        -- latest partition day it was fetched
    invalidated_at     timestamptz,          -- NULL: active
    invalidated_on     date,                 -- partition day that invalidated it
    invalidated_reason text CHECK (invalidated_reason IN ('stale', 'description_given_up')),
    CHECK (first_seen <= last_seen),
    CHECK ((invalidated_at IS NULL) = (invalidated_reason IS NULL))
);
CREATE INDEX postings_last_seen_idx ON postings (last_seen);
CREATE INDEX postings_active_idx ON postings (state) WHERE invalidated_at IS NULL;
CREATE INDEX postings_title_normalized_idx ON postings (title_normalized);

-- Details (the description) per posting, with the fetch status.
CREATE TABLE posting_descriptions (
    refnr        text PRIMARY KEY REFERENCES postings (refnr),
    status       text NOT NULL CHECK (status IN ('ok', 'not_found', 'error')),
    description  text,                       -- plain text from the HTML
    attempts     integer NOT NULL DEFAULT 0, -- failed runs so far (reset on success)
    last_error   text,
    fetched_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX posting_descriptions_status_idx ON posting_descriptions (status) WHERE status = 'error';
