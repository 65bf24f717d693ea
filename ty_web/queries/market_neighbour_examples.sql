-- A few active catalogue titles of each of several KldB codes (lowest ids first), and how many each code
-- has in all.
SELECT kldb_code, berufenet_id, name, level, total
FROM (SELECT kldb_code, berufenet_id, name, level,
             row_number() OVER (PARTITION BY kldb_code ORDER BY berufenet_id) AS n,
             count(*) OVER (PARTITION BY kldb_code) AS total
      FROM professions WHERE active AND kldb_code = ANY(%(codes)s)) t
WHERE n <= %(per_code)s
ORDER BY kldb_code, berufenet_id
