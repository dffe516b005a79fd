-- When the final report of a broadcast composed in chat was written to the outbox (in the
-- same transaction as the report's rows). 'done' alone was not enough: a crash between the
-- broadcast's close and its report lost the report, as the chat side only remembered in
-- memory which broadcasts it had seen sending. Broadcasts already done count as reported.
ALTER TABLE broadcasts ADD COLUMN reported_at TEXT;
UPDATE broadcasts SET reported_at = finished_at WHERE state = 'done';
