-- Lines told once to an officer on their next message: a colleague replaced their answer, or
-- cancelled a draft holding their answers. Written in the transaction of that change, deleted
-- in the transaction of the event whose reply shows them.
CREATE TABLE notices (
    key        TEXT PRIMARY KEY,             -- chosen by the service
    person_id  INTEGER NOT NULL REFERENCES people(id),
    text       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX notices_by_person ON notices(person_id);
