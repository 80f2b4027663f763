"""Step 1 of the data flow: the real German-English corpus (embedded, Europarl or your own) read strictly, cleaned and
split by document into the pool, valid and test (stage prepare)."""
