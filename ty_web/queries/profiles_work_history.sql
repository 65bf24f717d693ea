-- A user's work history, each entry with its profession's name; the caller narrows it to one entry
-- or orders it.
SELECT w.id, w.title, w.employer, w.start_date, w.end_date, w.description, w.source, w.berufenet_id,
       p.name AS profession_name, w.kldb_code, w.label_status, w.label_score, w.created_at, w.updated_at
FROM work_history w
LEFT JOIN professions p ON p.berufenet_id = w.berufenet_id
WHERE w.user_id = %(user_id)s
