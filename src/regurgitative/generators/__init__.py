"""Step 2: the generators that write regurgitative English for the pool's German: local LLMs through llama.cpp's
server, OpenAI-compatible APIs, and fairseq teachers (stages generate, teacher); their cleaned answers and E2."""
