"""Step 5: what the runs show: BLEU tables (aggregate), E3 error rates (errors), E4 lexical diversity (diversity),
every claim's comparisons with seed-pooled intervals and Holm-corrected tests (significance)."""
