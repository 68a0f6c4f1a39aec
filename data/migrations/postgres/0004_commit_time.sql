-- When the repo's own commit of a snapshot was made (ms since the epoch), when gnfc knows it
-- (a git checkout added to the corpus, a fetch whose forge API gave the head's date). Each
-- test commits its source copy with this time, or a fixed one when it is NULL, so
-- `self.lastModified` and `self.rev` are the repo's and never the wall clock's.
ALTER TABLE flakes ADD COLUMN committed_at BIGINT;
