"""The async caller against the loopback server: retries, Retry-After, timeouts, limits, fallbacks."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from gradeapp.llm.client import Caller, CallFailed, Endpoint, endpoint_host, redact
from gradeapp.llm.pool import PoolStats, run_pool

MESSAGES = [{"role": "user", "content": "Say hello."}]


def endpoint_for(server, **kw) -> Endpoint:
    kw.setdefault("max_retries", 2)
    kw.setdefault("timeout", 5.0)
    return Endpoint(model="fake-model", base_url=server.base_url, **kw)


def call(endpoint: Endpoint, messages=MESSAGES, fmt=None, n: int = 1):
    async def go():
        caller = Caller(endpoint)
        try:
            return await asyncio.gather(*(caller.chat(messages, fmt) for _ in range(n))), caller
        finally:
            await caller.close()

    return asyncio.run(go())


def test_endpoint_host_drops_credentials_and_path():
    assert endpoint_host("https://user:secret@api.example.com:8443/v1?x=1") == "api.example.com:8443"
    assert endpoint_host("http://127.0.0.1:8000/v1") == "127.0.0.1:8000"
    assert endpoint_host("https://api.openai.com/v1") == "api.openai.com"


def test_call_returns_text_and_usage(fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-abc123")
    (result,), _ = call(endpoint_for(fake_openai))
    assert result.text.startswith("Answer:")
    assert result.usage["prompt_tokens"] > 0 and result.usage["completion_tokens"] > 0
    assert fake_openai.auth_headers == {"Bearer sk-test-abc123"}


def test_429_retry_honours_retry_after(fake_openai):
    fake_openai.retry_after = 0.6
    fake_openai.push("429")
    started = time.perf_counter()
    (result,), _ = call(endpoint_for(fake_openai))
    elapsed = time.perf_counter() - started
    assert result.text
    assert len(fake_openai.chat_calls()) == 2
    # the client's own backoff would wait 0.375-0.5 s; Retry-After asked for 0.6 s
    assert elapsed >= 0.6


def test_500_is_retried(fake_openai):
    fake_openai.push("500")
    (result,), _ = call(endpoint_for(fake_openai, max_retries=2))
    assert result.text and len(fake_openai.chat_calls()) == 2


def test_gives_up_with_a_clear_error_after_retries(fake_openai):
    fake_openai.push("429", "429", "429")
    with pytest.raises(CallFailed) as info:
        call(endpoint_for(fake_openai, max_retries=2))
    assert len(fake_openai.chat_calls()) == 3
    message = str(info.value)
    assert "HTTP 429" in message and "gave up after 2 retries" in message and "rate limited" in message
    assert not info.value.fatal


def test_timeout_gives_up_with_a_clear_error(fake_openai):
    fake_openai.hang = 120  # the server answers only at the end of the test, however slow the machine
    fake_openai.push("hang", "hang")
    with pytest.raises(CallFailed, match=r"timed out after 0.3 s \(1 retries\)"):
        call(endpoint_for(fake_openai, max_retries=1, timeout=0.3))
    assert len(fake_openai.chat_calls()) == 2


def test_malformed_response_body_is_a_failure_not_a_reply(fake_openai):
    fake_openai.push("malformed")
    with pytest.raises(CallFailed, match="unreadable response"):
        call(endpoint_for(fake_openai))


def test_bad_key_is_fatal_and_the_key_is_redacted(fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-LEAKCHECK-123")
    fake_openai.default = "401"
    with pytest.raises(CallFailed) as info:
        call(endpoint_for(fake_openai))
    assert info.value.fatal
    assert "HTTP 401" in str(info.value)
    assert "LEAKCHECK" not in str(info.value)


def test_endpoint_without_structured_output_falls_back_to_text(fake_openai):
    fake_openai.default = "reject_format"
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    results, caller = call(endpoint_for(fake_openai), fmt=fmt)
    assert results[0].text and not results[0].structured
    assert caller.structured_ok is False
    bodies = [r["body"] for r in fake_openai.chat_calls()]
    assert "response_format" in bodies[0] and "response_format" not in bodies[1]


def _release_when_held(server, n: int) -> threading.Thread:
    """Start a thread that lets the server answer once n calls wait on it at the same time."""

    def go() -> None:
        try:
            server.wait_held(n)
        finally:
            server.release()

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread


def test_concurrency_is_bounded(fake_openai):
    fake_openai.hold_after(0)  # every call waits until three are on the server at once
    releaser = _release_when_held(fake_openai, 3)
    call(endpoint_for(fake_openai, concurrency=3), n=12)
    releaser.join()
    assert fake_openai.held == 3 and fake_openai.max_inflight == 3


def test_token_rate_limit_paces_calls(fake_openai):
    # each call is estimated at ~103 tokens (4 chars a token + max_tokens 100); a bucket of 200 tokens
    # draining 400 a second lets two calls through at once, then one every ~0.26 s (~0.8 s in all)
    limited = endpoint_for(fake_openai, max_tokens=100, tokens_per_minute=200 * 120, rate_period=0.5)
    started = time.perf_counter()
    call(limited, n=5)
    assert time.perf_counter() - started >= 0.7  # a lower bound: a busy machine only adds to it
    # without the limit all five calls reach the server at once, however slow the machine
    fake_openai.hold_after(0)
    releaser = _release_when_held(fake_openai, 5)
    call(endpoint_for(fake_openai, max_tokens=100), n=5)
    releaser.join()
    assert fake_openai.held == 5


def test_cost_uses_the_price_table_or_an_override():
    assert Endpoint(model="gpt-4o-mini").cost(1_000_000, 1_000_000) == pytest.approx(0.75)
    assert Endpoint(model="gpt-4o-2024-08-06").cost(1_000_000, 0) == pytest.approx(2.5)
    assert Endpoint(model="my-local-llama").cost(10, 10) is None
    assert Endpoint(model="my-local-llama", price=(1.0, 2.0)).cost(500_000, 500_000) == pytest.approx(1.5)


def test_redact_removes_the_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-LEAKCHECK-123")
    assert redact("bad key sk-test-LEAKCHECK-123 given") == "bad key *** given"


def test_pool_keeps_finished_results_when_cancelled():
    saved: list[int] = []

    returned: list[int] = []
    never = asyncio.Event()  # items 5..7 stay in flight until the pool is cancelled

    async def work(i: int) -> int:
        if i >= 5:
            await never.wait()
        returned.append(i)
        return i

    def flush(batch: list[int]) -> int:
        saved.extend(batch)
        return len(batch)

    async def go():
        stats = PoolStats(total=8)
        task = asyncio.create_task(run_pool(range(8), work, flush, workers=8, stats=stats, flush_every=5))
        while len(returned) < 5:  # wait for a condition: the five quick items have returned
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return stats

    stats = asyncio.run(go())
    assert sorted(saved) == [0, 1, 2, 3, 4] and stats.saved == 5 and stats.interrupted


def test_pool_stops_when_the_first_calls_all_fail():
    calls = []

    async def work(i: int) -> int:
        calls.append(i)
        raise CallFailed("127.0.0.1:1: cannot connect (0 retries)")

    stats = asyncio.run(run_pool(list(range(200)), work, lambda b: len(b), workers=2))
    assert stats.fatal and "first 10 calls all failed" in stats.fatal
    assert len(calls) < 20


def _refusing_port() -> int:
    """Return a loopback port nothing listens on (bound, then closed: the kernel refuses connections)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_a_refused_connection_is_named_as_such_not_a_timeout(transport):
    endpoint = Endpoint(
        model="m", base_url=f"http://127.0.0.1:{_refusing_port()}/v1", max_retries=0, transport=transport
    )
    with pytest.raises(CallFailed) as info:
        call(endpoint)
    assert "connection refused" in str(info.value) and "timed out" not in str(info.value)
    assert info.value.environment


def test_a_timeout_is_the_networks_side_too(fake_openai):
    fake_openai.hang = 120
    fake_openai.push("hang")
    with pytest.raises(CallFailed, match=r"timed out after 0.3 s") as info:
        call(endpoint_for(fake_openai, max_retries=0, timeout=0.3))
    assert info.value.environment


def test_judge_against_a_server_that_is_not_running_exits_1_naming_the_refusal(tmp_path, capsys):
    from gradeapp.cli import main
    from tests.fakeopenai import make_project

    path = make_project(tmp_path / "p.gradeapp", n_generations=40, k=2)
    url = f"http://127.0.0.1:{_refusing_port()}/v1"
    argv = ["judge", "--project", str(path), "--model", "m", "--base-url", url, "--max-retries", "0"]
    assert main([*argv, "--runs", "1", "--concurrency", "2"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("gradeapp: error: stopped:") and "connection refused" in last
