-- Replies are delivered, not just sent: what an event replies is stored in the transaction
-- that stores its effects, and a sender marks each message once the messenger accepted it.
-- After a crash or restart the rows still 'pending' go out; a redelivered event that was
-- already handled gets its stored replies again.

CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    channel    TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    person_id  INTEGER,                      -- told unreachable on a permanent refusal
    event_id   TEXT,                         -- the inbound event this answers (NULL: a push)
    priority   INTEGER NOT NULL DEFAULT 0,   -- 0 replies, 1 reminders, 2 broadcasts
    payload    TEXT NOT NULL,                -- the channel's own call, JSON
    state      TEXT NOT NULL DEFAULT 'pending'
               CHECK (state IN ('pending', 'sent', 'unreachable', 'failed')),
    created_at TEXT NOT NULL,
    done_at    TEXT
);
CREATE INDEX outbox_pending ON outbox(channel, id) WHERE state = 'pending';
CREATE INDEX outbox_by_event ON outbox(channel, event_id) WHERE event_id IS NOT NULL;

-- No fetched update is lost: updates are stored before the messenger is told they arrived
-- (Telegram: before the next getUpdates confirms them), and those not yet handled are
-- handled first after a restart.
CREATE TABLE inbox (
    channel     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    payload     TEXT NOT NULL,                -- the update as received, JSON
    received_at TEXT NOT NULL,
    PRIMARY KEY (channel, event_id)
);

-- The id of the last reply delivered to each chat. Telegram numbers a chat's messages in one
-- sequence, the person's and the bot's: a message the person wrote with a lower id was
-- written before that reply reached them, so it does not answer what the reply asks.
CREATE TABLE reply_marks (
    channel    TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (channel, chat_id)
);
