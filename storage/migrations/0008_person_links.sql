-- One person on several channels: a chat account linked to a person who joined elsewhere
-- (with a code that person asked for with /lienket) acts as that person: the same units,
-- drafts and conversation. Reminders go to the channel the person joined with.
CREATE TABLE person_links (
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    person_id   INTEGER NOT NULL REFERENCES people(id),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (channel, external_id)
);

CREATE TABLE link_codes (
    code       TEXT PRIMARY KEY,
    person_id  INTEGER NOT NULL REFERENCES people(id),
    expires_at TEXT NOT NULL
);
