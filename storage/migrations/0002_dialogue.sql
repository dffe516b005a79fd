-- Where each person is in the chat dialogue, and which inbound updates were already handled
-- (a redelivered update must change nothing).

CREATE TABLE conversations (
    person_id  INTEGER PRIMARY KEY REFERENCES people(id),
    state      TEXT NOT NULL DEFAULT '{}',
    updated_at TEXT NOT NULL
);

-- Saving an answer touches its draft, without a second statement from the application.
CREATE TRIGGER draft_touched AFTER INSERT ON draft_answers BEGIN
    UPDATE drafts SET updated_at = NEW.answered_at WHERE id = NEW.draft_id;
END;
CREATE TRIGGER draft_touched_again AFTER UPDATE ON draft_answers BEGIN
    UPDATE drafts SET updated_at = NEW.answered_at WHERE id = NEW.draft_id;
END;

CREATE TABLE processed_events (
    channel    TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    handled_at TEXT NOT NULL,
    PRIMARY KEY (channel, event_id)
);
