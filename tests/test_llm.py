"""The openai-client path against a fault-injecting OpenAI-compatible server on 127.0.0.1: retries, Retry-After,
unreadable answers, the response cache, and the errors a user sees (integration); the response cache's key and
what it names, and the decoding fields only llama.cpp takes (unit)."""
from __future__ import annotations

import json

import openai
import pytest
from fault_server import MODEL, FaultServer
from helpers import REPO

from regurgitative import profile
from regurgitative.generators import llama_server, llm, translation
from regurgitative.generators.response_cache import ResponseCache, request_key
from regurgitative.params import ParamsError
from regurgitative.validation import check_decoding

# The test tier of each test (tests/conftest.py): the unit tests need no server.
integration, unit = pytest.mark.integration, pytest.mark.unit


def make_llm(server: FaultServer, cache: ResponseCache, api: str = "completions", timeout: float = 1.0,
             max_retries: int = 4, model: str = MODEL) -> llm.LLM:
    client = llm.make_client(server.base_url, "test-key", timeout, max_retries)
    return llm.LLM(client, model=model, model_id=f"test|{model}", api=api,
                   decoding={"max_tokens": 16, "temperature": 0.0}, cache=cache)


@pytest.fixture
def cache(tmp_path):
    with ResponseCache(tmp_path / "cache.jsonl") as c:
        yield c


@integration
def test_an_answer_is_cached_and_a_second_ask_is_free(cache):
    with FaultServer() as server:
        g = make_llm(server, cache)
        first = g.complete({"prompt": "German: Hallo Welt\nEnglish:"})
        second = g.complete({"prompt": "German: Hallo Welt\nEnglish:"})
    assert first == second and first["text"] == " EN[Hallo Welt]" and first["mean_logprob"] == -1.0
    assert len(server.requests) == 1 and g.usage.requests == 1 and g.usage.cache_hits == 1
    assert (g.usage.prompt_tokens, g.usage.completion_tokens) == (10, 5)


@integration
def test_chat_answers_come_back_the_same_way(cache):
    with FaultServer() as server:
        a = make_llm(server, cache, api="chat").complete({"messages": [{"role": "user", "content": "Guten Tag"}]})
    assert a["text"] == "EN[Guten Tag]" and a["finish_reason"] == "stop"


@integration
@pytest.mark.parametrize("fault", ["429", "500", "slow", "cut", "malformed"])
def test_a_transient_fault_is_retried_until_the_answer_arrives(cache, fault):
    with FaultServer(faults=[fault, fault], retry_after="0", slow_seconds=2.5) as server:
        g = make_llm(server, cache, timeout=1.0)
        a = g.complete({"prompt": "German: Eins\nEnglish:"})
    assert a["text"] == " EN[Eins]"
    # HTTP-level faults are the openai client's to retry; an answer that arrives unreadable is ours.
    assert g.usage.retried_bad_answers == (2 if fault == "malformed" else 0)
    assert [r["fault"] for r in server.requests] == [fault, fault, "ok"]
    assert len(cache) == 1


@integration
def test_retry_after_is_honoured(cache):
    with FaultServer(faults=["429"], retry_after="2") as server:
        make_llm(server, cache).complete({"prompt": "German: Zwei\nEnglish:"})
    first, second = server.requests
    assert second["time"] - first["time"] >= 1.9


@integration
def test_retries_give_up_with_a_clear_error(cache):
    with FaultServer(faults=["500"] * 10, retry_after="0") as server:
        with pytest.raises(llm.LLMError, match="gave up after the client's retries: InternalServerError"):
            make_llm(server, cache, max_retries=2).complete({"prompt": "German: Drei\nEnglish:"})
    assert len(server.requests) == 3 and len(cache) == 0


@integration
def test_an_unknown_model_is_named(cache):
    with FaultServer() as server:
        g = make_llm(server, cache, model="no-such-model")
        with pytest.raises(llm.LLMError, match=r"no model 'no-such-model'; it serves fake-translator"):
            g.check_model()
        with pytest.raises(llm.LLMError, match=r"model 'no-such-model' not found"):
            g.complete({"prompt": "German: Vier\nEnglish:"})


@integration
def test_a_missing_api_key_names_the_variable_and_the_env_file(tmp_path, monkeypatch):
    monkeypatch.delenv("REGURGITATIVE_TEST_KEY", raising=False)
    with pytest.raises(llm.LLMError, match=r"'remote': environment variable REGURGITATIVE_TEST_KEY is not set.*\.env"):
        llm.api_key("REGURGITATIVE_TEST_KEY", "remote", env_file=tmp_path / ".env")


@integration
def test_the_key_is_read_from_a_dotenv_file_but_never_cached(tmp_path, monkeypatch, cache):
    monkeypatch.delenv("REGURGITATIVE_TEST_KEY", raising=False)
    (tmp_path / ".env").write_text("REGURGITATIVE_TEST_KEY=sk-test-secret-123\n")
    key = llm.api_key("REGURGITATIVE_TEST_KEY", "remote", env_file=tmp_path / ".env")
    assert key == "sk-test-secret-123"
    with FaultServer() as server:
        client = llm.make_client(server.base_url, key, 1.0, 0)
        g = llm.LLM(client, model=MODEL, model_id="x", api="completions", decoding={}, cache=cache)
        g.complete({"prompt": "German: Fünf\nEnglish:"})
    assert "sk-test-secret" not in cache.path.read_text()


@unit
def test_the_cache_key_covers_prompt_model_and_decoding():
    base = {"model_id": "m", "api": "completions", "prompt": "p", "temperature": 0.0, "repeat_penalty": 1.1}
    assert request_key(base) == request_key(dict(reversed(list(base.items()))))
    for change in ({"prompt": "q"}, {"model_id": "n"}, {"temperature": 0.7}, {"max_tokens": 5},
                   {"repeat_penalty": 1.0}):
        assert request_key({**base, **change}) != request_key(base)


BUILD = {"llama_cpp": "0.3.36", "build": "llama-cpp-python==0.3.36 -DGGML_NATIVE=OFF -DGGML_AVX512=OFF",
         "features": "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 0"}
SERVER = {"n_threads": 2, "n_ctx": 2048, "n_batch": 512}
DECODING = {"max_tokens": 96, "temperature": 0.0, "stop": ["\n"], "repeat_penalty": 1.1}
PROMPT = {"prompt": "German: Hallo Welt\nEnglish:"}


def local_key(cache: ResponseCache, model_id: str = "gguf-sha256:" + "a" * 64, build: dict = BUILD,
              settings: dict = SERVER, mode: dict = translation.SINGLE, decoding: dict = DECODING) -> str:
    """The key a local llama.cpp generator gives PROMPT (what translation.endpoint builds, without a server)."""
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key=llm.LOCAL_API_KEY)
    g = llm.LLM(client, model="local", model_id=model_id, api="completions", decoding=decoding, cache=cache,
                key_fields=translation.local_key_fields(build, settings, mode))
    return request_key(g.request(PROMPT))


@unit
def test_a_local_generators_key_names_weights_build_mode_server_and_every_decoding_field(cache):
    key = local_key(cache)
    assert key == local_key(cache, build=dict(reversed(list(BUILD.items()))), decoding=dict(DECODING))
    changes = {
        "weights": {"model_id": "gguf-sha256:" + "b" * 64},
        "llama.cpp version": {"build": {**BUILD, "llama_cpp": "0.3.37"}},
        "build flags": {"build": {**BUILD, "build": BUILD["build"].replace("AVX512=OFF", "AVX512=ON")}},
        "a build made by hand": {"build": {**BUILD, "build": None}},
        "instruction set": {"build": {**BUILD, "features": "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1"}},
        "mode": {"mode": {"mode": "batched", "batch_size": 1}},
        "batch size": {"mode": {**translation.SINGLE, "batch_size": 8}},
        "context size": {"settings": {**SERVER, "n_ctx": 4096}},
        "prompt batch": {"settings": {**SERVER, "n_batch": 256}},
        **{f"decoding {k}": {"decoding": {**DECODING, k: v}} for k, v in
           {"max_tokens": 48, "temperature": 0.7, "stop": ["\n\n"], "repeat_penalty": 1.0, "top_k": 40}.items()},
        "no repeat_penalty": {"decoding": {k: v for k, v in DECODING.items() if k != "repeat_penalty"}},
    }
    keys = {what: local_key(cache, **change) for what, change in changes.items()}
    assert all(k != key for k in keys.values()), [w for w, k in keys.items() if k == key]
    assert len(set(keys.values())) == len(keys)
    batched = {"mode": "batched", "batch_size": 8}
    assert local_key(cache, mode=batched) != local_key(cache, mode={**batched, "batch_size": 4})
    # what changes no answer changes no key: the threads and the replicas of the server
    assert local_key(cache, settings={**SERVER, "n_threads": 1, "replicas": 2}) == key


@unit
def test_the_build_identity_names_the_version_the_flags_and_the_instruction_set(tmp_path):
    import llama_cpp
    version = llama_cpp.__version__
    record = tmp_path / llama_server.BUILD_RECORD
    record.write_text(f"llama-cpp-python=={version} -DGGML_NATIVE=OFF  -DGGML_AVX512=OFF\n")
    made = llama_server.build_identity(record)
    assert made["llama_cpp"] == version
    assert made["build"] == f"llama-cpp-python=={version} -DGGML_NATIVE=OFF -DGGML_AVX512=OFF"  # spaces normalised
    assert made["features"] and made == llama_server.build_identity(record)  # the same build, the same identity
    by_hand = llama_server.build_identity(tmp_path / "absent")  # installed without `make venv`
    record.write_text("llama-cpp-python==0.1.0 -DGGML_NATIVE=ON\n")  # a record of a build since replaced
    assert by_hand == llama_server.build_identity(record) == {**made, "build": None}


@unit
def test_repeat_penalty_is_refused_for_a_generator_that_is_not_llama_cpp(tmp_path, cache):
    params = profile.render("default", REPO / "profiles")
    check_decoding(params)  # the local generators state llama-cpp-python's default, 1.1
    assert all(params["generators"][g]["decoding"]["repeat_penalty"] == 1.1 for g in ("gemma3-270m", "smollm2-135m"))
    params["generators"]["gpt-4o-mini"]["decoding"]["repeat_penalty"] = 1.1
    with pytest.raises(ParamsError, match=r"generators\.gpt-4o-mini\.decoding\.repeat_penalty is for llama_cpp"):
        check_decoding(params)
    # and the endpoint refuses it before anything is sent (a generator dict not read through load_params)
    g = {"generate": {"timeout_seconds": 1, "max_retries": 0, "request_seconds": None}}
    with pytest.raises(llm.LLMError, match=r"generators\.remote\.decoding\.repeat_penalty: only a llama_cpp"):
        with translation.endpoint("remote", params["generators"]["gpt-4o-mini"], g, cache, tmp_path):
            pass


@integration
def test_llama_cpp_decoding_fields_reach_the_server_and_an_openai_request_carries_none(cache):
    with FaultServer() as server:
        client = llm.make_client(server.base_url, "test-key", 1.0, 0)
        for api, payload in (("completions", PROMPT), ("chat", {"messages": [{"role": "user", "content": "Hallo"}]})):
            local = llm.LLM(client, model=MODEL, model_id="local", api=api, decoding=DECODING, cache=cache)
            remote = llm.LLM(client, model=MODEL, model_id="remote", api=api, cache=cache,
                             decoding={k: v for k, v in DECODING.items() if k != "repeat_penalty"})
            local.complete(payload)
            remote.complete(payload)
    local_body, remote_body, local_chat, remote_chat = [r["body"] for r in server.requests]
    assert local_body["repeat_penalty"] == local_chat["repeat_penalty"] == 1.1 and local_body["max_tokens"] == 96
    assert "repeat_penalty" not in remote_body and "repeat_penalty" not in remote_chat


@integration
def test_a_line_cut_by_a_kill_is_dropped_and_the_rest_kept(tmp_path):
    path = tmp_path / "cache.jsonl"
    with ResponseCache(path) as c:
        for i in range(3):
            c.put(f"k{i}", {"i": i}, {"text": f"t{i}"})
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"key": "k3", "request": {"i": 3}, "resp')  # killed mid-write
    with ResponseCache(path) as c:
        assert c.dropped_partial_line and len(c) == 3 and c.get("k2") == {"text": "t2"}
        c.put("k3", {"i": 3}, {"text": "t3"})
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[-1])["key"] == "k3"


@integration
def test_damage_before_the_end_is_refused_with_the_line(tmp_path):
    path = tmp_path / "cache.jsonl"
    path.write_text('{"key": "a", "request": {}, "response": {}}\nnot json\n{"key": "b", "request": {}, "response": {}}\n')
    with pytest.raises(ValueError, match=r"cache\.jsonl:2: damaged cache entry"):
        ResponseCache(path)


@integration
def test_concurrent_requests_are_each_paid_once(cache):
    from concurrent.futures import ThreadPoolExecutor
    with FaultServer(delay=0.05) as server:
        g = make_llm(server, cache)
        prompts = [{"prompt": f"German: Satz {i}\nEnglish:"} for i in range(20)]
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(g.complete, prompts))
    assert [a["text"] for a in answers] == [f" EN[Satz {i}]" for i in range(20)]
    assert len(server.requests) == 20 and len(cache) == 20
    assert 1 < server.max_in_flight <= 4


@integration
def test_a_request_has_a_bounded_total_time(cache):
    """Per-attempt timeouts alone would let 20 retries of a server that never answers in time run for minutes;
    the request's total time stops it, retries and waits included. What is checked is what happens, not how
    long it took (speed is the benchmarks' business): the request is stopped by its deadline, which the error
    names, after the client retried within it but long before its 20 retries ran out, and nothing is cached."""
    with FaultServer(faults=["slow"] * 30, slow_seconds=3.0) as server:
        guard = llm.RequestGuard()
        client = llm.make_client(server.base_url, "test-key", 1.0, 20, guard)
        g = llm.LLM(client, model=MODEL, model_id="t", api="completions", decoding={"max_tokens": 4}, cache=cache,
                    guard=guard, request_seconds=2.5)
        with pytest.raises(llm.RequestDeadlineExceeded, match=r"no answer within the request's total time of 2\.5 s "
                                                              r"\(generate\.request_seconds\), retries included"):
            g.complete({"prompt": "German: Fünf\nEnglish:"})
    # every attempt timed out (1 s each against a 3 s answer); the deadline, not the retries, ended them
    assert [r["fault"] for r in server.requests] == ["slow"] * len(server.requests)
    assert 2 <= len(server.requests) <= 4
    assert len(cache) == 0 and g.usage.requests == 0 and g.usage.by_finish_reason == {}


@integration
def test_a_dead_endpoint_stops_every_attempt_before_it_is_sent(cache):
    """What a local server's watch does (llama_server.Server.check): the client's retries do not run on."""
    dead = []

    def alive():
        if dead:
            raise RuntimeError("the server was killed by signal SIGKILL (9)")

    with FaultServer(faults=["500"] * 3, retry_after="0") as server:
        guard = llm.RequestGuard(alive)
        g = llm.LLM(llm.make_client(server.base_url, "test-key", 1.0, 8, guard), model=MODEL, model_id="t",
                    api="completions", decoding={}, cache=cache, guard=guard)
        g.complete({"prompt": "German: Sechs\nEnglish:"})  # 500s retried until the answer comes
        dead.append(True)
        with pytest.raises(RuntimeError, match="SIGKILL"):
            g.complete({"prompt": "German: Sieben\nEnglish:"})
        with pytest.raises(RuntimeError, match="SIGKILL"):
            g.check_alive()
    assert [r["fault"] for r in server.requests] == ["500", "500", "500", "ok"]
