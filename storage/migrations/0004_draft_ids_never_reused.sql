-- Draft ids are never reused (AUTOINCREMENT). Without it SQLite hands a new draft the id of
-- the highest draft just sent or cancelled, and an answer still addressed to the old draft
-- (a cached id, or an answer committed in the same batch) was stored in another unit's
-- report instead of failing. Rebuilt the SQLite way: new tables, copy, drop, rename; the
-- answers table is rebuilt first so dropping the old drafts cascades into nothing.

CREATE TABLE drafts_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO drafts_new (id, unit_code, template_id, template_version, period, started_by,
                        started_at, updated_at, reopened_from)
    SELECT id, unit_code, template_id, template_version, period, started_by, started_at,
           updated_at, reopened_from FROM drafts;

CREATE TABLE draft_answers_new (
    draft_id    INTEGER NOT NULL REFERENCES drafts_new(id) ON DELETE CASCADE,
    question_id TEXT NOT NULL,
    value       TEXT,                        -- JSON; null = skipped
    answered_by INTEGER NOT NULL REFERENCES people(id),
    answered_at TEXT NOT NULL,
    PRIMARY KEY (draft_id, question_id)
);
INSERT INTO draft_answers_new (draft_id, question_id, value, answered_by, answered_at)
    SELECT draft_id, question_id, value, answered_by, answered_at FROM draft_answers;

-- Ids handed out before now, even of drafts since removed, stay used: without AUTOINCREMENT
-- an id was at most the number of drafts ever started, and every start is audited.
DELETE FROM sqlite_sequence WHERE name = 'drafts_new';
INSERT INTO sqlite_sequence (name, seq) VALUES ('drafts_new', MAX(
    (SELECT COALESCE(MAX(id), 0) FROM drafts),
    (SELECT COUNT(*) FROM audit WHERE action = 'draft.start')));

DROP TABLE draft_answers;  -- its triggers go with it
DROP TABLE drafts;
-- Renaming also rewrites draft_answers_new's reference to drafts_new.
ALTER TABLE drafts_new RENAME TO drafts;
ALTER TABLE draft_answers_new RENAME TO draft_answers;

CREATE TRIGGER draft_touched AFTER INSERT ON draft_answers BEGIN
    UPDATE drafts SET updated_at = NEW.answered_at WHERE id = NEW.draft_id;
END;
CREATE TRIGGER draft_touched_again AFTER UPDATE ON draft_answers BEGIN
    UPDATE drafts SET updated_at = NEW.answered_at WHERE id = NEW.draft_id;
END;
