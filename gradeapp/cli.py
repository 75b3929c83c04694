"""The gradeapp command line: `gradeapp` opens the desk; `gradeapp <command>` runs headless.

Each command module registers its sub-commands with register(subparsers, common); a user error
(GradeappError) prints one line without a traceback and exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from gradeapp import __version__
from gradeapp.errors import GradeappError, ProjectError
from gradeapp.paths import default_project

# Modules that add sub-commands; each defines register(subparsers, common: argparse.ArgumentParser).
COMMAND_MODULES: list[str] = [
    "gradeapp.grading",
    "gradeapp.judge_cli",
    "gradeapp.team",
    "gradeapp.guidelines",
    "gradeapp.adjudication",
    "gradeapp.quality",
    "gradeapp.audit_cli",
]


def open_store(args: argparse.Namespace, *, create: bool = False):
    """Open the project named by --project (or the per-user default)."""
    from gradeapp.db import open_project

    path = Path(args.project) if args.project else default_project()
    if not path.exists() and not create:
        if not args.project:
            from gradeapp.demo import ensure_default_project

            ensure_default_project(path)
        else:
            raise ProjectError(
                f"{path}: no such project file (create it with 'gradeapp init --project {path}')"
            )
    return open_project(path, create=create)


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


# -- foundation commands --------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    from gradeapp.db import open_project
    from gradeapp.demo import build_demo

    path = Path(args.project) if args.project else default_project()
    if path.exists():
        raise ProjectError(f"{path}: already exists (choose another --project)")
    if args.demo:
        build_demo(path)
        print(f"created the demo project at {path}")
    else:
        open_project(path, create=True, name=args.name).close()
        print(f"created an empty project at {path}")
    return 0


def cmd_catalog_import(args: argparse.Namespace) -> int:
    from gradeapp.catalog import import_catalog

    with open_store(args) as store:
        counts = import_catalog(store, [Path(p) for p in args.paths])
    print(
        f"skills: {counts['skills_added']} added, {counts['skills_updated']} updated; "
        f"topics: {counts['topics_added']} added"
    )
    return 0


def cmd_catalog_common(args: argparse.Namespace) -> int:
    from gradeapp.catalog import set_common

    with open_store(args) as store:
        n = set_common(store, args.skills, common=not args.off)
    print(f"{n} skill(s) {'un' if args.off else ''}flagged as common")
    return 0


def cmd_catalog_list(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        skills, topics = store.skills(), store.topics()
    if args.json:
        _print_json({"skills": skills, "topics": topics})
        return 0
    for s in skills:
        print(f"{'*' if s['common'] else ' '} {s['category'] or '-':<20} {s['name']}")
    print(f"{len(skills)} skills (* = common), {len(topics)} topics: {', '.join(topics)}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from gradeapp.importers import import_sources

    with open_store(args) as store:
        report = import_sources(store, [Path(p) for p in args.sources], kind=args.kind)
    for src, counts in report.items():
        print(f"{src}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from gradeapp.sampling import novelty_bound, sample_into

    with open_store(args) as store:
        report = sample_into(store, args.k, args.combinations, args.seed, exclude_common=args.exclude_common)
    for row in report["per_k"]:
        row["novelty_bound"] = novelty_bound(row["k"], args.p_skill, args.p_topic, args.corpus)
    if args.json:
        _print_json(report)
        return 0
    print(f"seed {args.seed}; p_s={args.p_skill:g}, p_t={args.p_topic:g}, L={args.corpus:g}")
    print(
        f"{'k':>3} {'drawn':>6} {'distinct':>8} {'possible C(N,k)*T':>20} {'novelty bound p_s^k*p_t*L':>26}"
    )
    for r in report["per_k"]:
        print(
            f"{r['k']:>3} {r['drawn']:>6} {r['distinct']:>8} {r['possible']:>20,} {r['novelty_bound']:>26.3g}"
        )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        info = store.info()
        project = store.project
        path = store.path
    if args.json:
        print(json.dumps(info))
        return 0
    demo = " (demo)" if project.get("demo") == "1" else ""
    print(f"project {project.get('name')}{demo}  {path}")
    print(f"uuid {project.get('uuid')}")
    for key in ("skills", "topics", "combinations", "generations", "graders"):
        print(f"{key:>13}: {info[key]}")
    for kind, counts in info["verdicts"].items():
        print(
            f"{kind + ' verdicts':>13}: pass {counts['1']}, fail {counts['0']}, unparsed {counts['unparsed']}"
        )
    return 0


def cmd_desk(args: argparse.Namespace) -> int:
    try:
        from gradeapp.ui.app import run_desk
    except ImportError as exc:  # a headless install without Qt's system libraries
        raise GradeappError(f"the desk cannot start: {exc}") from exc
    path = Path(args.project) if args.project else default_project()
    if not args.project:
        from gradeapp.demo import ensure_default_project

        ensure_default_project(path)
    return run_desk(path)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--project",
        metavar="PATH",
        help="project file (default: your per-user project, first a copy of the demo)",
    )
    parser = argparse.ArgumentParser(
        prog="gradeapp",
        description="Skill-Mix grading desk. Without a command it opens the desk; commands run headless.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"gradeapp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("init", parents=[common], help="create a project file")
    p.add_argument("--demo", action="store_true", help="fill it with the bundled demo project")
    p.add_argument("--name", help="project name (default: the file name)")
    p.set_defaults(func=cmd_init)

    cat = sub.add_parser("catalog", help="skills and topics").add_subparsers(
        dest="catalog_command", required=True
    )
    p = cat.add_parser(
        "import",
        parents=[common],
        help="import skills and topics (reference skills.csv + topics.txt, a folder, or JSONL/CSV)",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.set_defaults(func=cmd_catalog_import)
    p = cat.add_parser(
        "common", parents=[common], help="flag skills as common (excluded from reported scores)"
    )
    p.add_argument("skills", nargs="+", metavar="SKILL")
    p.add_argument("--off", action="store_true", help="clear the flag instead")
    p.set_defaults(func=cmd_catalog_common)
    p = cat.add_parser("list", parents=[common], help="list skills and topics")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_catalog_list)

    p = sub.add_parser(
        "import",
        parents=[common],
        help="import generations and verdicts (reference run folders, generations or verdicts JSONL/CSV)",
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument(
        "--kind", choices=["reference", "generations", "verdicts"], help="force the kind of source"
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("sample", parents=[common], help="draw combinations of k skills and a topic")
    p.add_argument("--k", type=int, nargs="+", default=[2, 3, 4, 5], help="values of k (default 2 3 4 5)")
    p.add_argument("--combinations", type=int, default=100, help="combinations per k (default 100)")
    p.add_argument("--seed", type=int, default=10, help="random seed (default 10, as the reference)")
    p.add_argument("--exclude-common", action="store_true", help="draw only from skills not flagged common")
    p.add_argument("--p-skill", type=float, default=0.0144, help="p_s for the novelty bound (paper: 0.0144)")
    p.add_argument("--p-topic", type=float, default=0.0022, help="p_t for the novelty bound (paper: 0.0022)")
    p.add_argument(
        "--corpus", type=float, default=5e10, help="L, training texts, for the bound (paper: 5e10)"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("info", parents=[common], help="counts of what the project holds")
    p.add_argument("--json", action="store_true", help="print the counts as JSON (a stable shape)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("desk", parents=[common], help="open the grading desk (the default without a command)")
    p.set_defaults(func=cmd_desk)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", cmd_desk)
    try:
        return int(func(args) or 0)
    except GradeappError as exc:
        print(f"gradeapp: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gradeapp: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
