-- Roster from chat and the command line (issue 15). An invite can be revoked: the row is kept
-- (the audit and the memberships it made still name it) and a revoked code is refused by
-- name, not counted as a wrong guess. A person's last activity is read from the audit by
-- actor, so the audit gets an index on it.
ALTER TABLE invites ADD COLUMN revoked_at TEXT;
CREATE INDEX audit_by_actor ON audit(actor, at);
