-- A flaky test's first attempt as two columns, readable and filterable like `outcome` and
-- `error_class`, instead of one "outcome (class)" text.
ALTER TABLE tests ADD COLUMN flaky_first_outcome TEXT;
ALTER TABLE tests ADD COLUMN flaky_first_class TEXT;
UPDATE tests SET
    flaky_first_outcome = split_part(flaky_first, ' (', 1),
    flaky_first_class = substring(flaky_first FROM ' \((.*)\)$')
WHERE flaky_first IS NOT NULL;
ALTER TABLE tests DROP COLUMN flaky_first;
