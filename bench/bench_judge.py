"""Benchmark the judge pipeline: N judge calls against a loopback server with fixed latency.

Runs the real `run_judge` (the openai client, prompt rendering, parsing, batched SQLite writes) against
an asyncio OpenAI-compatible server in a separate process (so that the server's CPU and GIL are not the
client's), at several concurrencies, and prints calls/s against the ideal concurrency / latency and the
client's own CPU time per call (time.process_time of this process, which includes the writer thread).

    python bench/bench_judge.py                    # 10,000 calls, 100 ms, concurrency 8 32 128
    python bench/bench_judge.py --calls 2000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


# -- the server: asyncio, keep-alive HTTP/1.1, one reply computed from the request's criteria -------
def _serve(port_queue, latency: float) -> None:
    from fakeopenai import grade_json  # the same valid JSON grading reply as the tests' server

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = json.loads(await reader.readexactly(length)) if length else {}
                await asyncio.sleep(latency)
                content = grade_json(body)
                payload = json.dumps(
                    {
                        "id": "chatcmpl-bench",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "bench"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 400, "completion_tokens": 120, "total_tokens": 520},
                    }
                ).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(payload)).encode()
                    + b"\r\n\r\n"
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionResetError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        port_queue.put(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def process_cpu(pid: int) -> float:
    """Return the CPU seconds (user + system) a process has used, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_bench_project(path: Path, n: int) -> Path:
    from fakeopenai import make_project

    return make_project(path, n_generations=n, k=3)


def bench_one(project: Path, base_url: str, concurrency: int, latency: float, calls: int) -> dict:
    from gradeapp.db import open_project
    from gradeapp.llm.client import Endpoint
    from gradeapp.llm.judge import run_judge

    endpoint = Endpoint(
        model="gpt-4o-mini", base_url=base_url, concurrency=concurrency, max_retries=0, timeout=30
    )
    with open_project(project) as store:
        # a fresh judge configuration per row (temperature differs), so each row does all calls
        endpoint.temperature = round(0.5 + concurrency / 1000, 3)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        report = asyncio.run(run_judge(store, endpoint, runs=1, limit=calls))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        verdicts = store.execute(
            "SELECT COUNT(*) FROM verdicts WHERE grader_id = ?", [report.grader_id]
        ).fetchone()[0]
    assert report.saved == calls and report.failed == 0, report.summary()
    ideal = concurrency / latency
    return {
        "concurrency": concurrency,
        "calls": calls,
        "seconds": wall,
        "rate": calls / wall,
        "ideal": ideal,
        "pct": 100 * calls / wall / ideal,
        "cpu_ms": 1000 * cpu / calls,
        "verdicts": verdicts,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.1, help="server latency in seconds (default 0.1)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32, 128])
    args = parser.parse_args(argv)

    queue: mp.Queue = mp.get_context("spawn").Queue()
    server = mp.get_context("spawn").Process(target=_serve, args=(queue, args.latency), daemon=True)
    server.start()
    port = queue.get(timeout=30)
    base_url = f"http://127.0.0.1:{port}/v1"
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-key")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            project = make_bench_project(Path(tmp) / "bench.gradeapp", args.calls)
            print(
                f"{args.calls:,} judge calls, server latency {args.latency * 1000:.0f} ms, {os.cpu_count()} cores"
            )
            print(
                f"{'concurrency':>11} {'seconds':>8} {'calls/s':>8} {'ideal':>7} {'% ideal':>8} "
                f"{'client CPU ms/call':>19} {'server CPU ms/call':>19}"
            )
            for c in args.concurrency:
                server_cpu = process_cpu(server.pid)
                r = bench_one(project, base_url, c, args.latency, args.calls)
                server_ms = 1000 * (process_cpu(server.pid) - server_cpu) / args.calls
                print(
                    f"{r['concurrency']:>11} {r['seconds']:>8.1f} {r['rate']:>8.1f} {r['ideal']:>7.0f} "
                    f"{r['pct']:>7.1f}% {r['cpu_ms']:>19.2f} {server_ms:>19.2f}",
                    flush=True,
                )
    finally:
        server.terminate()
        server.join(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
