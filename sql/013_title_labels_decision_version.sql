-- What decided a label (ty_resources.classifier.decision_version: embedder, lexical model, job-board
-- vocabulary, confidence model, thresholds). A label retrieval decided under another version is 'revised':
-- classified again by the next run that sees its title, and changed only where the decision changes.
-- NULL for labels made before: they are revised once.
ALTER TABLE title_labels ADD COLUMN decision_version text;
