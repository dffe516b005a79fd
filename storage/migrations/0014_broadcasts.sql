-- Announcements (broadcasts) from admins and, where the config allows, supervisors.
-- A broadcast is stored with its audience; when it starts (now, or at its time outside quiet
-- hours unless urgent) its audience is resolved and one outbox row per recipient and message
-- part is written in one transaction (`outbox.broadcast_id`), so what goes out is known before
-- anything is sent. Broadcast rows move pending → sending (claimed by the sender, a chunk at
-- a time) → sent / unreachable / failed; after a crash the rows still 'sending' go back to
-- 'pending' (at least once: see bot/services/delivery.py). A recipient known unreachable when
-- it starts gets a row already 'unreachable', so every recipient is counted.

CREATE TABLE broadcasts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at    TEXT NOT NULL,
    created_by    INTEGER REFERENCES people(id),  -- NULL: the command line (see audit)
    audience      TEXT NOT NULL,                  -- JSON, bot.domain.broadcasts.Audience
    text          TEXT NOT NULL,
    attachment    TEXT,                           -- JSON {kind, name, file (base64)} or NULL
    ack           INTEGER NOT NULL DEFAULT 0,     -- ask for "✅ Đã nhận"
    urgent        INTEGER NOT NULL DEFAULT 0,     -- goes out in quiet hours too
    send_at       TEXT NOT NULL,                  -- UTC instant it may start
    state         TEXT NOT NULL DEFAULT 'scheduled'
                  CHECK (state IN ('scheduled', 'sending', 'done', 'cancelled')),
    started_at    TEXT,
    finished_at   TEXT,
    follows       INTEGER REFERENCES broadcasts(id),  -- a follow-up to those who had not confirmed
    progress_channel TEXT,                        -- the creator's message edited with progress
    progress_chat    TEXT,
    progress_message INTEGER
);
CREATE INDEX broadcasts_waiting ON broadcasts(send_at) WHERE state IN ('scheduled', 'sending');

CREATE TABLE broadcast_acks (
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id),
    person_id    INTEGER NOT NULL REFERENCES people(id),
    acked_at     TEXT NOT NULL,
    PRIMARY KEY (broadcast_id, person_id)
);

-- The outbox gains the broadcast a row belongs to and the state 'sending'; a CHECK can only
-- change by rebuilding the table (nothing points at outbox rows).
CREATE TABLE outbox_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    channel      TEXT NOT NULL,
    chat_id      TEXT NOT NULL,
    person_id    INTEGER,
    event_id     TEXT,
    priority     INTEGER NOT NULL DEFAULT 0,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'sending', 'sent', 'unreachable', 'failed')),
    created_at   TEXT NOT NULL,
    done_at      TEXT,
    broadcast_id INTEGER
);
INSERT INTO outbox_new (id, channel, chat_id, person_id, event_id, priority, payload, state,
                        created_at, done_at)
    SELECT id, channel, chat_id, person_id, event_id, priority, payload, state, created_at,
           done_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox(channel, id) WHERE state = 'pending';
CREATE INDEX outbox_by_event ON outbox(channel, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX outbox_by_broadcast ON outbox(broadcast_id, person_id) WHERE broadcast_id IS NOT NULL;
