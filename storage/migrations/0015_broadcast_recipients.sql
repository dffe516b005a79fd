-- Who a broadcast reached, written with its outbox rows when it starts: one row per person,
-- with the unit they were reached through. Counts, confirmations ("only a recipient may
-- confirm") and follow-ups read it. When the broadcast is done each person's outcome is kept
-- here, so its counts outlive the outbox rows that pruning removes after a week.

CREATE TABLE broadcast_recipients (
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id),
    person_id    INTEGER NOT NULL REFERENCES people(id),
    unit_code    TEXT NOT NULL,
    outcome      TEXT CHECK (outcome IN ('delivered', 'unreachable', 'failed')),  -- once done
    PRIMARY KEY (broadcast_id, person_id)
);
CREATE INDEX broadcast_recipients_by_person ON broadcast_recipients(person_id);
