-- Units, people, invites, versioned templates, drafts, submissions and the audit trail.
-- Times are ISO 8601 strings with an offset (UTC).

CREATE TABLE units (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    parent_code TEXT REFERENCES units(code),
    level       TEXT NOT NULL CHECK (level IN ('tinh', 'huyen', 'xa')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX units_by_parent ON units(parent_code);

CREATE TABLE people (
    id           INTEGER PRIMARY KEY,
    channel      TEXT NOT NULL,              -- telegram, zalo, console
    external_id  TEXT NOT NULL,              -- the channel's user id
    display_name TEXT NOT NULL DEFAULT '',
    reachable    INTEGER NOT NULL DEFAULT 1, -- 0 once the person blocked the bot
    created_at   TEXT NOT NULL,
    UNIQUE (channel, external_id)
);

CREATE TABLE memberships (
    person_id   INTEGER NOT NULL REFERENCES people(id),
    unit_code   TEXT NOT NULL REFERENCES units(code),
    role        TEXT NOT NULL CHECK (role IN ('officer', 'supervisor', 'admin')),
    invite_code TEXT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (person_id, unit_code, role)
);
CREATE INDEX memberships_by_unit ON memberships(unit_code, role);

CREATE TABLE invites (
    code       TEXT PRIMARY KEY,
    unit_code  TEXT NOT NULL REFERENCES units(code),
    role       TEXT NOT NULL CHECK (role IN ('officer', 'supervisor', 'admin')),
    max_uses   INTEGER NOT NULL CHECK (max_uses >= 1),
    uses       INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT ''
);

-- A template's content is frozen per version: a submission points at the exact questions.
CREATE TABLE templates (
    id           TEXT NOT NULL,
    version      INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,              -- the template as JSON
    created_at   TEXT NOT NULL,
    PRIMARY KEY (id, version),
    UNIQUE (id, content_hash)
);

-- One open draft per unit, template and period; answers are saved one by one.
CREATE TABLE drafts (
    id               INTEGER PRIMARY KEY,
    unit_code        TEXT NOT NULL REFERENCES units(code),
    template_id      TEXT NOT NULL,
    template_version INTEGER NOT NULL,
    period           TEXT NOT NULL,
    started_by       INTEGER NOT NULL REFERENCES people(id),
    started_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    reopened_from    INTEGER,                -- submission version being corrected
    UNIQUE (unit_code, template_id, period),
    FOREIGN KEY (template_id, template_version) REFERENCES templates(id, version)
);

CREATE TABLE draft_answers (
    draft_id    INTEGER NOT NULL REFERENCES drafts(id) ON DELETE CASCADE,
    question_id TEXT NOT NULL,
    value       TEXT,                        -- JSON; null = skipped
    answered_by INTEGER NOT NULL REFERENCES people(id),
    answered_at TEXT NOT NULL,
    PRIMARY KEY (draft_id, question_id)
);

-- Every send (and every correction) is a new version; the latest is the unit's report.
CREATE TABLE submissions (
    id               INTEGER PRIMARY KEY,
    unit_code        TEXT NOT NULL REFERENCES units(code),
    template_id      TEXT NOT NULL,
    template_version INTEGER NOT NULL,
    period           TEXT NOT NULL,
    version          INTEGER NOT NULL,
    submitted_by     INTEGER NOT NULL REFERENCES people(id),
    submitted_at     TEXT NOT NULL,
    due_at           TEXT NOT NULL,
    on_time          INTEGER NOT NULL,
    UNIQUE (unit_code, template_id, period, version),
    FOREIGN KEY (template_id, template_version) REFERENCES templates(id, version)
);
CREATE INDEX submissions_by_period ON submissions(template_id, period);

CREATE TABLE submission_answers (
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    question_id   TEXT NOT NULL,
    value         TEXT,
    PRIMARY KEY (submission_id, question_id)
);

CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,                   -- 'cli', 'person:12', 'scheduler'
    action  TEXT NOT NULL,
    entity  TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
