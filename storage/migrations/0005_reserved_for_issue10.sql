-- Placeholder so this branch's migrations stay numbered without gaps: number 5 belongs to
-- another part of issue 10 (the outbox and inbox). Drop this file when merging.
SELECT 1;
