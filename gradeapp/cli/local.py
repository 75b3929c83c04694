"""The `local` commands: a real model on this machine, no key, no network (pip install 'gradeapp[local]').

`gradeapp local demo` runs the whole pipeline into a project of its own; `gradeapp local serve` keeps
one server running for later `generate --local` / `judge --local` runs; `gradeapp local info` says
what is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gradeapp.cli.llm import _Bar
from gradeapp.cli.options import COMBINATIONS, K_VALUE, RUNS, whole
from gradeapp.errors import GradeappError
from gradeapp.llm.local_server import (
    CONTEXT,
    LocalServer,
    bundled_model_path,
    find_model,
    remove_note,
    serve_local,
    server_installed,
    server_version,
    write_note,
)
from gradeapp.paths import data_dir
from gradeapp.services.local_demo import DEMO_COMBINATIONS, DEMO_KS, run_local_demo


def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add the local commands."""
    local = subparsers.add_parser(
        "local", help="a real model on this machine (pip install 'gradeapp[local]')"
    ).add_subparsers(dest="local_command", required=True)
    p = local.add_parser(
        "demo",
        parents=[common],
        help="copy the demo, then generate and judge fresh texts with the local model (no key, no network)",
    )
    p.add_argument(
        "--out", metavar="PATH", help="the new project (default: local-demo.gradeapp in your data folder)"
    )
    p.add_argument("--k", type=K_VALUE, nargs="+", default=list(DEMO_KS), help="values of k (default 2 3)")
    p.add_argument(
        "--combinations",
        type=COMBINATIONS,
        default=DEMO_COMBINATIONS,
        help=f"texts per k (default {DEMO_COMBINATIONS})",
    )
    p.add_argument("--judge-runs", type=RUNS, default=1, help="judge runs per text (default 1)")
    p.add_argument(
        "--model-file", metavar="GGUF", help="another model file (default: the bundled SmolLM2-135M)"
    )
    p.set_defaults(func=cmd_local_demo)

    p = local.add_parser("serve", parents=[common], help="run the local model's server until Ctrl+C")
    p.add_argument("--port", type=whole(1, 65535), help="loopback port (default: a free one)")
    p.add_argument("--threads", type=whole(1, 1024), help="CPU threads (default: all cores)")
    p.add_argument(
        "--model-file", metavar="GGUF", help="another model file (default: the bundled SmolLM2-135M)"
    )
    p.set_defaults(func=cmd_local_serve)

    p = local.add_parser("info", parents=[common], help="the local model and server: installed? which file?")
    p.set_defaults(func=cmd_local_info)


def cmd_local_demo(args: argparse.Namespace) -> int:
    out = Path(args.out or args.project or data_dir() / "local-demo.gradeapp")
    bar = _Bar("call")

    def phase(message: str) -> None:
        bar.close()
        bar.shown = 0
        print(message, file=sys.stderr, flush=True)

    with serve_local(args.model_file, temperature=0.0, max_tokens=2048, concurrency=2) as endpoint:
        print(
            f"local model {endpoint.model} ({endpoint.provenance['model_sha256'][:12]}), no key, no network"
        )
        report = asyncio.run(
            run_local_demo(
                out,
                endpoint,
                ks=args.k,
                combinations=args.combinations,
                judge_runs=args.judge_runs,
                on_phase=phase,
                on_start=bar.start,
                on_progress=bar.progress,
            )
        )
    bar.close()
    print(f"generate: {report.generate.summary()}")
    print(f"judge: {report.judge.summary()}")
    print(f"project: {out}")
    print(f"  gradeapp --project {out} stats     the judge beside the demo's people")
    print(f"  gradeapp --project {out} export    the report")
    print(f"  gradeapp --project {out}           the desk")
    failed = report.generate.failed + report.judge.failed
    if report.generate.fatal or report.judge.fatal:
        raise GradeappError(f"stopped: {report.generate.fatal or report.judge.fatal}")
    return 1 if failed else 0


def cmd_local_serve(args: argparse.Namespace) -> int:
    model = find_model(args.model_file)
    server = LocalServer(model, port=args.port, threads=args.threads, context=CONTEXT)
    with server:
        write_note(server)
        print(f"serving {model.name} at {server.base_url} (sha256 {model.sha256[:12]}); Ctrl+C stops it")
        print("generate --local and judge --local use this server while it runs", flush=True)
        try:
            server.process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            remove_note()
    return 0


def cmd_local_info(args: argparse.Namespace) -> int:
    bundled = bundled_model_path()
    print(f"server: {server_version() if server_installed() else 'not installed'}")
    print(f"bundled model: {bundled or 'not installed'}")
    if bundled is None or not server_installed():
        print("install them with: pip install 'gradeapp[local]'")
        return 1
    model = find_model()
    print(f"model: {model.name}  sha256 {model.sha256}")
    return 0
