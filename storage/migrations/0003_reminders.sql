-- The reminder ledger: one row per (unit, template, period, kind), claimed before sending, so
-- two sweeps at once, a crash or a restart never send the same reminder twice.

CREATE TABLE reminders (
    unit_code    TEXT NOT NULL REFERENCES units(code),
    template_id  TEXT NOT NULL,
    period       TEXT NOT NULL,
    kind         TEXT NOT NULL,              -- before:7, before:3, overdue:0, overdue:1 …
    status       TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'skipped')),
    scheduled_at TEXT NOT NULL,
    handled_at   TEXT NOT NULL,
    recipients   INTEGER NOT NULL DEFAULT 0,
    sweep_id     TEXT NOT NULL,              -- the sweep that claimed it
    PRIMARY KEY (unit_code, template_id, period, kind)
);
CREATE INDEX reminders_by_period ON reminders(template_id, period);
CREATE INDEX reminders_by_sweep ON reminders(sweep_id);
