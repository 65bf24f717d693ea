-- berufenet_catalogue's preview: active BERUFENET titles per domain (Berufshauptgruppe) and level.
SELECT d.code AS domain, d.title AS name, p.level, count(*)::int AS titles
FROM professions p JOIN kldb_codes d ON d.code = p.domain_code
WHERE p.active
GROUP BY d.code, d.title, p.level
