"""The openai-client path against a fault-injecting OpenAI-compatible server on 127.0.0.1: retries, Retry-After,
unreadable answers, the response cache, and the errors a user sees."""
from __future__ import annotations

import json
import time

import pytest
from fault_server import MODEL, FaultServer

from regurgitative.generators import llm
from regurgitative.generators.response_cache import ResponseCache, request_key

pytestmark = pytest.mark.integration  # the test tier (tests/conftest.py)


def make_llm(server: FaultServer, cache: ResponseCache, api: str = "completions", timeout: float = 1.0,
             max_retries: int = 4, model: str = MODEL) -> llm.LLM:
    client = llm.make_client(server.base_url, "test-key", timeout, max_retries)
    return llm.LLM(client, model=model, model_id=f"test|{model}", api=api,
                   decoding={"max_tokens": 16, "temperature": 0.0}, cache=cache)


@pytest.fixture
def cache(tmp_path):
    with ResponseCache(tmp_path / "cache.jsonl") as c:
        yield c


def test_an_answer_is_cached_and_a_second_ask_is_free(cache):
    with FaultServer() as server:
        g = make_llm(server, cache)
        first = g.complete({"prompt": "German: Hallo Welt\nEnglish:"})
        second = g.complete({"prompt": "German: Hallo Welt\nEnglish:"})
    assert first == second and first["text"] == " EN[Hallo Welt]" and first["mean_logprob"] == -1.0
    assert len(server.requests) == 1 and g.usage.requests == 1 and g.usage.cache_hits == 1
    assert (g.usage.prompt_tokens, g.usage.completion_tokens) == (10, 5)


def test_chat_answers_come_back_the_same_way(cache):
    with FaultServer() as server:
        a = make_llm(server, cache, api="chat").complete({"messages": [{"role": "user", "content": "Guten Tag"}]})
    assert a["text"] == "EN[Guten Tag]" and a["finish_reason"] == "stop"


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


def test_retry_after_is_honoured(cache):
    with FaultServer(faults=["429"], retry_after="2") as server:
        make_llm(server, cache).complete({"prompt": "German: Zwei\nEnglish:"})
    first, second = server.requests
    assert second["time"] - first["time"] >= 1.9


def test_retries_give_up_with_a_clear_error(cache):
    with FaultServer(faults=["500"] * 10, retry_after="0") as server:
        with pytest.raises(llm.LLMError, match="gave up after the client's retries: InternalServerError"):
            make_llm(server, cache, max_retries=2).complete({"prompt": "German: Drei\nEnglish:"})
    assert len(server.requests) == 3 and len(cache) == 0


def test_an_unknown_model_is_named(cache):
    with FaultServer() as server:
        g = make_llm(server, cache, model="no-such-model")
        with pytest.raises(llm.LLMError, match=r"no model 'no-such-model'; it serves fake-translator"):
            g.check_model()
        with pytest.raises(llm.LLMError, match=r"model 'no-such-model' not found"):
            g.complete({"prompt": "German: Vier\nEnglish:"})


def test_a_missing_api_key_names_the_variable_and_the_env_file(tmp_path, monkeypatch):
    monkeypatch.delenv("REGURGITATIVE_TEST_KEY", raising=False)
    with pytest.raises(llm.LLMError, match=r"'remote': environment variable REGURGITATIVE_TEST_KEY is not set.*\.env"):
        llm.api_key("REGURGITATIVE_TEST_KEY", "remote", env_file=tmp_path / ".env")


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


def test_the_cache_key_covers_prompt_model_and_decoding():
    base = {"model_id": "m", "api": "completions", "prompt": "p", "temperature": 0.0}
    assert request_key(base) == request_key(dict(reversed(list(base.items()))))
    for change in ({"prompt": "q"}, {"model_id": "n"}, {"temperature": 0.7}, {"max_tokens": 5}):
        assert request_key({**base, **change}) != request_key(base)


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


def test_damage_before_the_end_is_refused_with_the_line(tmp_path):
    path = tmp_path / "cache.jsonl"
    path.write_text('{"key": "a", "request": {}, "response": {}}\nnot json\n{"key": "b", "request": {}, "response": {}}\n')
    with pytest.raises(ValueError, match=r"cache\.jsonl:2: damaged cache entry"):
        ResponseCache(path)


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


def test_a_request_has_a_bounded_total_time(cache):
    """Per-attempt timeouts alone would let 20 retries of a server that never answers in time run for minutes;
    the request's total time stops it, retries and waits included."""
    with FaultServer(faults=["slow"] * 30, slow_seconds=3.0) as server:
        guard = llm.RequestGuard()
        client = llm.make_client(server.base_url, "test-key", 1.0, 20, guard)
        g = llm.LLM(client, model=MODEL, model_id="t", api="completions", decoding={"max_tokens": 4}, cache=cache,
                    guard=guard, request_seconds=2.5)
        start = time.monotonic()
        with pytest.raises(llm.RequestDeadlineExceeded, match=r"total time of 2\.5 s"):
            g.complete({"prompt": "German: Fünf\nEnglish:"})
        seconds = time.monotonic() - start
    assert 2.4 <= seconds < 6 and 2 <= len(server.requests) <= 4 and len(cache) == 0


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
