-- A flaky test's first attempt as two columns, readable and filterable like `outcome` and
-- `error_class`, instead of one "outcome (class)" text.
ALTER TABLE tests ADD COLUMN flaky_first_outcome TEXT;
ALTER TABLE tests ADD COLUMN flaky_first_class TEXT;
UPDATE tests SET
    flaky_first_outcome = CASE WHEN instr(flaky_first, ' (') > 0
        THEN substr(flaky_first, 1, instr(flaky_first, ' (') - 1) ELSE flaky_first END,
    flaky_first_class = CASE WHEN instr(flaky_first, ' (') > 0
        THEN substr(flaky_first, instr(flaky_first, ' (') + 2,
                    length(flaky_first) - instr(flaky_first, ' (') - 2) END
WHERE flaky_first IS NOT NULL;
ALTER TABLE tests DROP COLUMN flaky_first;
