-- Weights are kept for the model just stored and for the model in use of every catalogue version (a
-- catalogue change must not drop the weights another version's labels were made with); evaluations stay.
UPDATE title_models SET model = NULL
WHERE model IS NOT NULL AND version <> %(keep)s
  AND version NOT IN (SELECT DISTINCT ON (catalogue_version) version FROM title_models
                      WHERE accepted AND model IS NOT NULL
                      ORDER BY catalogue_version, trained_at DESC, version)
