-- Method 'typo': the title is one edit (a letter added, dropped, changed or two swapped) from a catalogue
-- reading of one of its retrieval candidates, and every such reading is of the same KldB code.
ALTER TABLE title_labels DROP CONSTRAINT title_labels_method_check;
ALTER TABLE title_labels ADD CONSTRAINT title_labels_method_check
    CHECK (method IN ('exact', 'typo', 'retrieval', 'llm', 'enriched'));
