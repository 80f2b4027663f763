"""Step 6: the write-up drawn from the results tables: each claim's verdict (findings) and one figure and one table
per experiment, with the README's results block (figures)."""
