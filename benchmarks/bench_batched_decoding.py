"""Benchmark: would batched decoding (several sequences per llama.cpp forward pass, the shared few-shot prefix
computed once) translate faster than today's one-request-at-a-time server on 2 cores, with the same greedy
outputs? Measures and prints; asserts nothing.

    python benchmarks/bench_batched_decoding.py --generator gemma3-270m -n 48 --parallel 1 4 8

Run from the repository root after `dvc repro` (it reads data/prepared and the generator's response cache,
data/llm-cache/<generator>.jsonl, whose answers came from the server one request at a time). For each
--parallel value it decodes the first n pool sentences with llama.cpp's low-level API: the prompt prefix (header
and shots) is evaluated once and copied to every sequence; each sequence then gets its sentence's suffix and
greedy tokens until a newline or max_tokens; a finished sequence takes the next sentence at once (continuous
batching). Scheduling is deterministic (slots refilled in order), so a run repeats its own outputs exactly. It
prints sentences/s, how many outputs equal the cached single-stream answers, and how many equal the first
--parallel value's.

Measured on the reference machine (Gemma-3-270M, 48 pool sentences, nothing else running; issue 12):
parallel 1: 1.62 sentences/s, parallel 4: 3.06, parallel 8: 3.48 (2.1x), but the greedy outputs of parallel 4
and 8 equal parallel 1's in only 28 and 31 of 48 sentences: batched matrix products accumulate in another order
and near-ties flip. None equals the server's in more than 15 of 48: llama-cpp-python's server applies
repeat_penalty 1.1 by default (its request schema), so today's "greedy" answers are greedy under that penalty.
llama.cpp's own llama-server (built from the same vendored source: -np 4, continuous batching) managed 1.37
sentences/s against 0.88 with one slot, with 29 of 48 outputs equal to one slot's, and its batches depend on
request timing, so its outputs are not reproducible run to run.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import llama_cpp  # noqa: E402

from regurgitative.generators import llama_server, translation
from regurgitative.params import load_params, param
from regurgitative.paths import LLM_CACHE_DIR, PREPARED_DIR
from regurgitative.text import read_lines


class Batched:
    def __init__(self, gguf: str, parallel: int, threads: int, n_ctx_per_seq: int = 512):
        llama_cpp.llama_backend_init()
        mp = llama_cpp.llama_model_default_params()
        self.model = llama_cpp.llama_model_load_from_file(gguf.encode(), mp)
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        cp = llama_cpp.llama_context_default_params()
        cp.n_ctx = n_ctx_per_seq * parallel
        cp.n_batch = cp.n_ubatch = 512
        cp.n_seq_max = parallel
        cp.kv_unified = True
        cp.n_threads = cp.n_threads_batch = threads
        self.ctx = llama_cpp.llama_init_from_model(self.model, cp)
        self.mem = llama_cpp.llama_get_memory(self.ctx)
        self.parallel = parallel
        self.batch = llama_cpp.llama_batch_init(512, 0, parallel)

    def tokenize(self, text: str, add_bos: bool) -> list[int]:
        raw = text.encode()
        buf = (llama_cpp.llama_token * (len(raw) + 16))()
        n = llama_cpp.llama_tokenize(self.vocab, raw, len(raw), buf, len(buf), add_bos, True)
        return list(buf[:n])

    def piece(self, token: int) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, 64, 0, False)
        return buf.raw[:n]

    def add(self, token: int, pos: int, seq: int, logits: bool) -> int:
        b, i = self.batch, self.batch.n_tokens
        b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, pos, 1, logits
        b.seq_id[i][0] = seq
        b.n_tokens += 1
        return i

    def decode(self) -> None:
        if llama_cpp.llama_decode(self.ctx, self.batch) != 0:
            raise RuntimeError("llama_decode failed")

    def argmax(self, i: int) -> int:
        ptr = llama_cpp.llama_get_logits_ith(self.ctx, i)
        return int(np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).argmax())

    def translate(self, prefix: str, prompts: list[str], max_tokens: int) -> list[str]:
        llama_cpp.llama_memory_clear(self.mem, True)
        pre = self.prefix_tokens = self.tokenize(prefix, add_bos=True)
        for start in range(0, len(pre), 512):
            self.batch.n_tokens = 0
            for k, t in enumerate(pre[start:start + 512]):
                self.add(t, start + k, 0, False)
            self.decode()
        for s in range(1, self.parallel):
            llama_cpp.llama_memory_seq_cp(self.mem, 0, s, -1, -1)
        queue = list(enumerate(prompts))
        out: list[str] = [""] * len(prompts)
        slots: dict[int, dict] = {}
        self.batch.n_tokens = 0
        for s in range(self.parallel):
            if queue:
                slots[s] = self._start(s, queue.pop(0), len(pre))
        while slots:
            self.decode()
            rows = {s: st["row"] for s, st in slots.items()}
            self.batch.n_tokens = 0
            for s, row in rows.items():
                st = slots[s]
                token = self.argmax(row)
                text = self.piece(token)
                done = llama_cpp.llama_vocab_is_eog(self.vocab, token) or b"\n" in text
                if not done:
                    st["bytes"] += text
                    st["n"] += 1
                    done = st["n"] >= max_tokens
                if done:
                    out[st["index"]] = st["bytes"].decode("utf-8", "replace")
                    llama_cpp.llama_memory_seq_rm(self.mem, s, len(pre), -1)
                    del slots[s]
                    if queue:
                        slots[s] = self._start(s, queue.pop(0), len(pre))
                else:
                    st["row"] = self.add(token, st["pos"], s, True)
                    st["pos"] += 1
        return out

    def _start(self, seq: int, item: tuple[int, str], n_prefix: int) -> dict:
        index, prompt = item
        tokens = self.tokenize(prompt, add_bos=True)   # the whole prompt, as the server tokenizes it
        if tokens[:n_prefix] != self.prefix_tokens:
            raise RuntimeError(f"sentence {index}: the prompt does not tokenize to the shared prefix + a suffix")
        tokens = tokens[n_prefix:]
        row = 0
        for k, t in enumerate(tokens):
            row = self.add(t, n_prefix + k, seq, k == len(tokens) - 1)
        return {"index": index, "row": row, "pos": n_prefix + len(tokens), "bytes": b"", "n": 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", default="gemma3-270m")
    ap.add_argument("-n", type=int, default=48)
    ap.add_argument("--parallel", type=int, nargs="+", default=[1, 4, 8])
    a = ap.parse_args()
    params = load_params()
    cfg = param(params, f"generators.{a.generator}")
    template = param(params, f"prompts.{cfg['prompt']}")
    pool = read_lines(PREPARED_DIR / "pool.de")[:a.n]
    shots = translation.few_shot_examples(int(template.get("shots", 0)), read_lines(PREPARED_DIR / "pool.de"))
    prompts = [translation.build_payload(template, cfg["api"], de, shots)["prompt"] for de in pool]
    prefix = template["header"] + "".join(template["example"].format(de=d, en=e) for d, e in shots)
    assert all(p.startswith(prefix) for p in prompts)
    cached = {}
    for line in (LLM_CACHE_DIR / f"{a.generator}.jsonl").open(encoding="utf-8"):
        r = json.loads(line)
        cached[r["request"].get("prompt")] = r["response"]["text"]
    single = [cached.get(p) for p in prompts]
    gguf = str(llama_server.gguf_path(cfg["model"]))
    threads = int(param(params, "generate.server.n_threads"))
    first = None
    for parallel in a.parallel:
        b = Batched(gguf, parallel, threads)
        start = time.perf_counter()
        outs = b.translate(prefix, prompts, int(cfg["decoding"]["max_tokens"]))
        seconds = time.perf_counter() - start
        same = sum(o.strip() == (s or "").strip() for o, s in zip(outs, single))
        first = first or (parallel, outs)
        same_first = sum(o == f for o, f in zip(outs, first[1]))
        print(f"parallel={parallel}: {len(outs) / seconds:.2f} sentences/s ({seconds:.1f} s), "
              f"{same}/{len(outs)} equal to the cached single-stream answers, {same_first}/{len(outs)} to "
              f"parallel={first[0]}'s", flush=True)
        for o, s in list(zip(outs, single))[:3]:
            print(f"   batched: {o.strip()!r}\n   cached:  {(s or '').strip()!r}")


if __name__ == "__main__":
    main()
