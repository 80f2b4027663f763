"""E10, the paper's LLM arm: a base LLM fine-tuned with LoRA (local) or OpenAI's API on real, self-generated or
another generator's pairs (stages finetune-base, finetune) and compared (stage finetune-compare)."""
