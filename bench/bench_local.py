"""Benchmark the local model: its tokens per second, and judge calls per second at concurrency 1 and 4.

Starts llama.cpp's server (the local extra) with SmolLM2-135M-Instruct, measures the decode rate of
a few generation calls (completion tokens the server reports / wall time), then runs the real
`run_judge` (our JSON schema, temperature 0) at each concurrency. llama-cpp-python's server has one
slot (a lock serialises its requests), so "parallel slots to match" means one server process per
slot, each judging its share of the texts with its own CPU threads (cores / slots); a single
one-slot server under concurrency c is measured too. Beside it, the same judge calls against the
loopback server of bench_judge.py (no model, no latency): the cost of our own client path.

    python bench/bench_local.py                     # 16 judge calls per row, concurrency 1 4
    python bench/bench_local.py --calls 8 --concurrency 1 2 4
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from bench_judge import _serve  # noqa: E402 (the loopback server of bench_judge.py)
from fakeopenai import make_project  # noqa: E402

from gradeapp.db import open_project  # noqa: E402
from gradeapp.llm.client import Caller, Endpoint  # noqa: E402
from gradeapp.llm.judge import run_judge  # noqa: E402
from gradeapp.llm.local_server import LocalServer, find_model, local_endpoint  # noqa: E402

STORY = "Write a long, detailed story about a beekeeper who loses her hive and finds it again."


async def decode_rate(endpoint: Endpoint, calls: int) -> tuple[int, float]:
    """Return (completion tokens, seconds) of `calls` sequential generation calls."""
    caller = Caller(endpoint)
    tokens, seconds = 0, 0.0
    try:
        for i in range(calls):
            start = time.perf_counter()
            result = await caller.chat([{"role": "user", "content": f"{STORY} ({i + 1})"}])
            seconds += time.perf_counter() - start
            tokens += (result.usage or {}).get("completion_tokens") or 0
    finally:
        await caller.close()
    return tokens, seconds


async def judge_parts(projects: list[Path], endpoints: list[Endpoint]) -> tuple[int, int]:
    """Judge every project with its endpoint at once; return (replies saved, completion tokens)."""

    async def one(path: Path, endpoint: Endpoint):
        store = open_project(path)
        try:
            return await run_judge(store, endpoint, runs=1)
        finally:
            store.close()

    reports = await asyncio.gather(*(one(p, e) for p, e in zip(projects, endpoints, strict=True)))
    for r in reports:
        assert r.failed == 0, r.summary()
    return sum(r.saved for r in reports), sum(r.usage.completion_tokens for r in reports)


def projects_for(folder: Path, name: str, calls: int, parts: int) -> list[Path]:
    """Return `parts` projects sharing `calls` texts of k = 2 (one judge call each)."""
    sizes = [calls // parts + (1 if i < calls % parts else 0) for i in range(parts)]
    return [make_project(folder / f"{name}-{i}.gradeapp", n_generations=n, k=2) for i, n in enumerate(sizes)]


def row(label: str, slots: int, concurrency: int, calls: int, seconds: float, tokens: int | None) -> str:
    tok = f"{tokens / seconds:>9.1f}" if tokens else f"{'-':>9}"
    return (
        f"{label:<28} {slots:>5} {concurrency:>11} {calls:>6} {seconds:>8.1f} {calls / seconds:>8.3f} {tok}"
    )


def bench_judge_rows(folder: Path, model, calls: int, concurrency: int, max_tokens: int) -> list[str]:
    """Judge `calls` texts at this concurrency: one server per slot, and one one-slot server."""
    cores = os.cpu_count() or 1
    out = []
    setups = [(concurrency, max(1, cores // concurrency))]
    if concurrency > 1:
        setups.append((1, cores))
    for slots, threads in setups:
        with ExitStack() as stack:
            servers = [stack.enter_context(LocalServer(model, threads=threads)) for _ in range(slots)]
            per_server = concurrency // slots
            endpoints = [
                local_endpoint(s.base_url, model, s.version, max_tokens=max_tokens, concurrency=per_server)
                for s in servers
            ]
            projects = projects_for(folder, f"c{concurrency}-s{slots}", calls, slots)
            start = time.perf_counter()
            saved, tokens = asyncio.run(judge_parts(projects, endpoints))
            seconds = time.perf_counter() - start
        label = f"local, {slots} server{'s' if slots > 1 else ''} x {threads} thr"
        out.append(row(label, slots, concurrency, saved, seconds, tokens))
    return out


def loopback_rows(folder: Path, calls: int, concurrencies: list[int]) -> list[str]:
    """Judge the same number of texts against bench_judge's loopback server (no model, no latency)."""
    queue: mp.Queue = mp.get_context("spawn").Queue()
    server = mp.get_context("spawn").Process(target=_serve, args=(queue, 0.0), daemon=True)
    server.start()
    try:
        url = f"http://127.0.0.1:{queue.get(timeout=30)}/v1"
        out = []
        for c in concurrencies:
            endpoint = Endpoint(model="loopback", base_url=url, concurrency=c, max_retries=0, timeout=30)
            projects = projects_for(folder, f"loop-c{c}", calls, 1)
            start = time.perf_counter()
            saved, _ = asyncio.run(judge_parts(projects, [endpoint]))
            out.append(row("loopback (no model)", 1, c, saved, time.perf_counter() - start, None))
        return out
    finally:
        server.terminate()
        server.join(5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=16, help="judge calls per row (default 16)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument(
        "--decode-calls", type=int, default=3, help="generation calls for tokens/s (default 3)"
    )
    parser.add_argument("--max-tokens", type=int, default=1024, help="judge completion budget (default 1024)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-key")
    model = find_model()
    cores = os.cpu_count() or 1
    print(
        f"{model.name} ({model.path.stat().st_size / 1e6:.0f} MB, sha256 {model.sha256[:12]}), {cores} cores"
    )
    with LocalServer(model) as server:
        endpoint = local_endpoint(server.base_url, model, server.version, max_tokens=256)
        tokens, seconds = asyncio.run(decode_rate(endpoint, args.decode_calls))
    print(
        f"llama-cpp-python {server.version}: {tokens} completion tokens in {seconds:.1f} s = {tokens / seconds:.1f} tokens/s"
    )
    print(
        f"{'judge calls (k = 2, schema)':<28} {'slots':>5} {'concurrency':>11} {'calls':>6} {'seconds':>8} "
        f"{'calls/s':>8} {'tokens/s':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for c in args.concurrency:
            for line in bench_judge_rows(Path(tmp), model, args.calls, c, args.max_tokens):
                print(line, flush=True)
        for line in loopback_rows(Path(tmp), max(args.calls, 200), args.concurrency):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
