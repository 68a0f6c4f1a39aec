-- A result that flipped when re-run (`gnfc run --recheck-regressions`): the recorded result is
-- the re-run's, and `flaky_first` keeps the first attempt's outcome and class ("outcome class").
ALTER TABLE tests ADD COLUMN flaky BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tests ADD COLUMN flaky_first TEXT;
