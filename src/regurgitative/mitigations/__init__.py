"""Step 3 (E5-E8): per-sentence quality scores of the generated pool (confidence, agreement, the AI-text detector)
and the mitigation conditions built from them: quality-ordered, mixed generators, a synthetic share (stages
quality, mitigate)."""
