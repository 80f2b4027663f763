"""E9, generation after generation: each generation's student is trained on what the previous one wrote, with or
without real data kept (stages recursion-start, recursion), and what collapses (stage collapse)."""
