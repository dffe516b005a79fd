-- rebuild: foreign keys off
-- Units after the 2025 reform: the truc_thuoc level (bodies directly under a province
-- organisation), each unit's own organisation (inherited when NULL), and retirement: the last
-- day a unit was part of the tree and the unit it was merged into. The level CHECK can only
-- change by rebuilding the table (new table, copy, drop, rename); every row is kept with its
-- times, and the tables that point at units keep pointing at it by name.

CREATE TABLE units_new (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    parent_code TEXT REFERENCES units_new(code),
    level       TEXT NOT NULL CHECK (level IN ('tinh', 'huyen', 'xa', 'truc_thuoc')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    org         TEXT,                        -- NULL: the nearest ancestor's
    retired_on  TEXT,                        -- YYYY-MM-DD, the last day it reported for
    merged_into TEXT REFERENCES units_new(code)
);
INSERT INTO units_new (code, name, parent_code, level, created_at, updated_at)
    SELECT code, name, parent_code, level, created_at, updated_at FROM units;
DROP TABLE units;
ALTER TABLE units_new RENAME TO units;
CREATE INDEX units_by_parent ON units(parent_code);
