-- Supervisors' reviews of a unit's submitted report: one per submission version, approved or
-- returned (with the reason). A report's review state is the review of its latest version: a
-- resubmission after a return has none yet (waiting for review again).
CREATE TABLE reviews (
    id          INTEGER PRIMARY KEY,
    unit_code   TEXT NOT NULL REFERENCES units(code),
    template_id TEXT NOT NULL,
    period      TEXT NOT NULL,
    version     INTEGER NOT NULL,            -- the submission version reviewed
    action      TEXT NOT NULL CHECK (action IN ('approve', 'return')),
    reason      TEXT,                        -- why it was returned
    person_id   INTEGER NOT NULL REFERENCES people(id),
    at          TEXT NOT NULL,
    UNIQUE (unit_code, template_id, period, version)
);
CREATE INDEX reviews_by_period ON reviews(template_id, period);
