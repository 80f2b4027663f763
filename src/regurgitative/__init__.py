"""Regurgitative training: German-English students trained on real vs LLM-generated data."""
