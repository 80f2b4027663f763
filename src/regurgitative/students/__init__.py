"""Step 4: the students, transformers trained from scratch with fairseq on a condition's first n pairs: the shared
vocabulary (tokenizer), data-bins (dataset), training (train), test-set BLEU (evaluate) and the copy-source floor
(baseline)."""
