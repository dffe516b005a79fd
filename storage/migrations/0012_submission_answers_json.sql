-- Each submission's answers also as one JSON object (question id → value), written with the
-- rows of submission_answers when it is sent: the digest of 10,000 communes reads 20,000
-- reports at once, and gathering 600,000 answer rows into objects was most of that read.
-- submission_answers stays the record (one row per answer); NULL here reads from it.
ALTER TABLE submissions ADD COLUMN answers_json TEXT;
UPDATE submissions SET answers_json = (
    SELECT json_group_object(a.question_id, json(a.value)) FROM submission_answers a
    WHERE a.submission_id = submissions.id);
