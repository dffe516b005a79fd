-- The scheduled digests' ledger: one row per (supervisor, template, period, root unit, kind),
-- written in the same transaction as the outbox rows that carry the digest, so a crash leaves
-- either both (the outbox delivers it after the restart) or neither (the next sweep sends it),
-- and two sweeps at once never send it twice (the key decides).

CREATE TABLE digest_ledger (
    person_id    INTEGER NOT NULL,
    template_id  TEXT NOT NULL,
    period       TEXT NOT NULL,
    unit_code    TEXT NOT NULL,              -- the root of the subtree digested
    kind         TEXT NOT NULL,              -- last_day, after_due, weekly-2026-W49
    status       TEXT NOT NULL CHECK (status IN ('sent', 'skipped', 'empty')),
    scheduled_at TEXT NOT NULL,
    handled_at   TEXT NOT NULL,
    PRIMARY KEY (person_id, template_id, period, unit_code, kind)
);
CREATE INDEX digest_ledger_by_period ON digest_ledger(template_id, period);
