-- Where each person is in the chat dialogue, and which inbound updates were already handled
-- (a redelivered update must change nothing).

CREATE TABLE conversations (
    person_id  INTEGER PRIMARY KEY REFERENCES people(id),
    state      TEXT NOT NULL DEFAULT '{}',
    updated_at TEXT NOT NULL
);

CREATE TABLE processed_events (
    channel    TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    handled_at TEXT NOT NULL,
    PRIMARY KEY (channel, event_id)
);
