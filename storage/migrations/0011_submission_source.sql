-- rebuild: foreign keys off
-- Where a submission came from: typed in chat by an officer of the unit ('chat', every
-- earlier row), filled in chat by a supervisor for the unit ('on_behalf'), or imported from a
-- file by an admin ('import'); `entered_by` is the person who entered it (NULL for an import
-- from the command line, whose actor the audit names). An import has no sender, so
-- `submitted_by` may now be NULL: a NOT NULL column can only be relaxed by rebuilding the
-- table (new table, copy, drop, rename). Ids are kept, so submission_answers (and any table
-- pointing at submissions) still points at the same rows.

CREATE TABLE submissions_new (
    id               INTEGER PRIMARY KEY,
    unit_code        TEXT NOT NULL REFERENCES units(code),
    template_id      TEXT NOT NULL,
    template_version INTEGER NOT NULL,
    period           TEXT NOT NULL,
    version          INTEGER NOT NULL,
    submitted_by     INTEGER REFERENCES people(id),   -- NULL: imported from a file
    submitted_at     TEXT NOT NULL,
    due_at           TEXT NOT NULL,
    on_time          INTEGER NOT NULL,
    source           TEXT NOT NULL DEFAULT 'chat'
                     CHECK (source IN ('chat', 'on_behalf', 'import')),
    entered_by       INTEGER REFERENCES people(id),   -- NULL: the command line (see audit)
    UNIQUE (unit_code, template_id, period, version),
    FOREIGN KEY (template_id, template_version) REFERENCES templates(id, version)
);
INSERT INTO submissions_new (id, unit_code, template_id, template_version, period, version,
                             submitted_by, submitted_at, due_at, on_time, source, entered_by)
    SELECT id, unit_code, template_id, template_version, period, version, submitted_by,
           submitted_at, due_at, on_time, 'chat', submitted_by FROM submissions;
DROP TABLE submissions;
ALTER TABLE submissions_new RENAME TO submissions;
CREATE INDEX submissions_by_period ON submissions(template_id, period);
