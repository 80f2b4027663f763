"""A local LLM's confidence in its own answers, E5's second reference-free score (a library of the quality
stage): the mean log-probability, under the model, of the tokens of each raw answer given the exact prompt it
answered (items.jsonl's `prompt` and `raw`).

Why afterwards and not while generating: asking llama-cpp-python's server for logprobs made Gemma-3-270M about
16 times slower (a log-softmax over its 262k-token vocabulary in Python for every generated token). Scoring a
finished answer is one forward pass over the prompt's tail and the answer, in llama.cpp, with the log-softmax
taken only where an answer token is predicted. The few-shot prefix that every prompt shares is evaluated once
and shared by every sequence of a batch (llama.cpp's unified KV cache); SEQUENCES answers are scored per
forward pass.

Deterministic: batches are formed in pool order, so the same items give the same numbers on every run (a batch
of other sentences would change the last digits: batched matrix products add in another order).
Completions-style prompts only (a base model such as Gemma-3-270M); a chat model's answers get None.
"""
from __future__ import annotations

import ctypes
from pathlib import Path

import llama_cpp
import numpy as np

SEQUENCES = 8          # answers scored per forward pass
BATCH_TOKENS = 512     # llama.cpp's n_batch: tokens per forward pass


@llama_cpp.llama_log_callback
def _quiet(level, text, user_data):  # llama.cpp's own logging: model loading tables, not wanted in stage logs
    return None


class Scorer:
    """One model loaded in-process (CPU), scoring answers in batches."""

    def __init__(self, gguf: Path, threads: int, sequences: int = SEQUENCES):
        llama_cpp.llama_log_set(_quiet, ctypes.c_void_p())
        llama_cpp.llama_backend_init()
        self.model = llama_cpp.llama_model_load_from_file(str(gguf).encode(), llama_cpp.llama_model_default_params())
        if not self.model:
            raise RuntimeError(f"{gguf}: llama.cpp could not load the model")
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.sequences, self.threads = sequences, threads
        self.ctx = None

    def close(self) -> None:
        if self.ctx:
            llama_cpp.llama_free(self.ctx)
        llama_cpp.llama_model_free(self.model)

    def tokenize(self, text: str) -> list[int]:
        raw = text.encode("utf-8")
        buf = (llama_cpp.llama_token * (len(raw) + 16))()
        n = llama_cpp.llama_tokenize(self.vocab, raw, len(raw), buf, len(buf), True, True)
        if n < 0:
            raise RuntimeError(f"tokenization failed for {text[:60]!r}")
        return list(buf[:n])

    def _context(self, n_ctx: int) -> None:
        cp = llama_cpp.llama_context_default_params()
        cp.n_ctx, cp.n_batch, cp.n_ubatch = n_ctx, BATCH_TOKENS, BATCH_TOKENS
        cp.n_seq_max, cp.kv_unified = self.sequences, True
        cp.n_threads = cp.n_threads_batch = self.threads
        self.ctx = llama_cpp.llama_init_from_model(self.model, cp)
        if not self.ctx:
            raise RuntimeError("llama.cpp could not create a context")
        self.memory = llama_cpp.llama_get_memory(self.ctx)

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """entries: (token, position, sequence, wants logits)."""
        batch = llama_cpp.llama_batch_init(len(entries), 0, 1)
        try:
            for i, (token, pos, seq, logits) in enumerate(entries):
                batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, pos, 1, logits
                batch.seq_id[i][0] = seq
            batch.n_tokens = len(entries)
            if llama_cpp.llama_decode(self.ctx, batch) != 0:
                raise RuntimeError("llama_decode failed (context too small?)")
        finally:
            llama_cpp.llama_batch_free(batch)

    def _logprob(self, row: int, token: int) -> float:
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.ctx, row), shape=(self.n_vocab,))
        top = float(logits.max())
        return float(logits[token]) - top - float(np.log(np.exp(logits - top, dtype=np.float64).sum()))

    def mean_logprobs(self, prompts: list[str], answers: list[str]) -> list[float | None]:
        """For each (prompt, answer): the mean natural-log probability of the answer's tokens; None for an empty
        answer."""
        full = [self.tokenize(p + a) for p, a in zip(prompts, answers)]
        alone = [self.tokenize(p) for p in prompts]
        # where each answer starts: the prompt's tokens, or as far as the two tokenizations agree
        starts = [next((i for i, (x, y) in enumerate(zip(f, p)) if x != y), min(len(f), len(p)))
                  for f, p in zip(full, alone)]
        shared = min(min(starts), *(next((i for i, (x, y) in enumerate(zip(f, full[0])) if x != y),
                                         min(len(f), len(full[0]))) for f in full))
        shared = max(0, min(shared, min(starts) - 1))   # the last prompt token must be decoded per sequence
        longest = max(len(f) - shared for f in full)
        if longest + 1 > BATCH_TOKENS:
            raise ValueError(f"a prompt tail and answer of {longest} tokens do not fit one batch of {BATCH_TOKENS}")
        self._context(shared + self.sequences * (longest + 8) + 64)
        llama_cpp.llama_memory_clear(self.memory, True)
        prefix = full[0][:shared]
        for k in range(0, len(prefix), BATCH_TOKENS):
            self._decode([(t, k + i, 0, False) for i, t in enumerate(prefix[k:k + BATCH_TOKENS])])
        for s in range(1, self.sequences):
            llama_cpp.llama_memory_seq_cp(self.memory, 0, s, -1, -1)

        scores: list[float | None] = [None] * len(full)
        pending: list[int] = []

        def flush() -> None:
            entries, wanted = [], []
            for s, index in enumerate(pending):
                tail = full[index][shared:]
                first_answer = starts[index] - shared          # index in `tail` of the first answer token
                for i, t in enumerate(tail):
                    wants = first_answer - 1 <= i < len(tail) - 1
                    if wants:
                        wanted.append((index, len(entries), tail[i + 1]))
                    entries.append((t, shared + i, s, wants))
            self._decode(entries)
            per: dict[int, list[float]] = {}
            for index, row, token in wanted:
                per.setdefault(index, []).append(self._logprob(row, token))
            for index, values in per.items():
                scores[index] = round(sum(values) / len(values), 6)
            for s in range(len(pending)):
                llama_cpp.llama_memory_seq_rm(self.memory, s, shared, -1)
            pending.clear()

        used = 0
        for index in range(len(full)):
            size = len(full[index]) - shared
            if pending and (len(pending) == self.sequences or used + size > BATCH_TOKENS):
                flush()
                used = 0
            pending.append(index)
            used += size
        if pending:
            flush()
        return scores


def score(gguf: Path, threads: int, prompts: list[str], answers: list[str]) -> list[float | None]:
    scorer = Scorer(gguf, threads)
    try:
        return scorer.mean_logprobs(prompts, answers)
    finally:
        scorer.close()
