-- How likely the title's first candidate is right (ty_resources/confidence.py): 1 for an exact reading, the
-- confidence model's probability for a searched title, NULL where no model fits the embedder (and for labels
-- made before the model).
ALTER TABLE title_labels ADD COLUMN confidence real CHECK (confidence BETWEEN 0 AND 1);
