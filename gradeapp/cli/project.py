"""The project commands: init, catalog, import, sample, info, desk."""

from __future__ import annotations

import argparse
from pathlib import Path

from gradeapp.cli.options import COMBINATIONS, FRACTION, K_VALUE, SEED, number, open_store
from gradeapp.cli.output import print_json
from gradeapp.core.sampling import novelty_bound
from gradeapp.errors import GradeappError
from gradeapp.services.catalog import import_catalog, set_common
from gradeapp.services.imports import import_sources
from gradeapp.services.project import create_project, existing_project_path
from gradeapp.services.sampling import sample_into


def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add the project commands."""
    p = subparsers.add_parser("init", parents=[common], help="create a project file")
    p.add_argument("--demo", action="store_true", help="fill it with the bundled demo project")
    p.add_argument("--name", help="project name (default: the file name)")
    p.set_defaults(func=cmd_init)

    _register_catalog(subparsers, common)

    p = subparsers.add_parser(
        "import",
        parents=[common],
        help="import generations and verdicts (reference run folders, generations or verdicts JSONL/CSV)",
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument(
        "--kind", choices=["reference", "generations", "verdicts"], help="force the kind of source"
    )
    p.add_argument(
        "--as-drafts",
        action="store_true",
        help="keep people's imported items drafts (default: an item deciding every criterion is submitted)",
    )
    p.set_defaults(func=cmd_import)

    p = subparsers.add_parser("sample", parents=[common], help="draw combinations of k skills and a topic")
    p.add_argument("--k", type=K_VALUE, nargs="+", default=[2, 3, 4, 5], help="values of k (default 2 3 4 5)")
    p.add_argument("--combinations", type=COMBINATIONS, default=100, help="combinations per k (default 100)")
    p.add_argument("--seed", type=SEED, default=10, help="random seed (default 10, as the reference)")
    p.add_argument("--exclude-common", action="store_true", help="draw only from skills not flagged common")
    p.add_argument(
        "--p-skill", type=FRACTION, default=0.0144, help="p_s for the novelty bound (paper: 0.0144)"
    )
    p.add_argument(
        "--p-topic", type=FRACTION, default=0.0022, help="p_t for the novelty bound (paper: 0.0022)"
    )
    p.add_argument(
        "--corpus",
        type=number(0.0, 1e18, above=True),
        default=5e10,
        help="L, training texts, for the bound (paper: 5e10)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sample)

    p = subparsers.add_parser("info", parents=[common], help="counts of what the project holds")
    p.add_argument("--json", action="store_true", help="print the counts as JSON (a stable shape)")
    p.set_defaults(func=cmd_info)

    p = subparsers.add_parser(
        "desk", parents=[common], help="open the grading desk (the default without a command)"
    )
    p.set_defaults(func=cmd_desk)


def _register_catalog(subparsers, common: argparse.ArgumentParser) -> None:
    """Add `gradeapp catalog import|common|list`."""
    cat = subparsers.add_parser("catalog", help="skills and topics").add_subparsers(
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


def cmd_init(args: argparse.Namespace) -> int:
    path = create_project(args.project, demo=args.demo, name=args.name)
    print(f"created {'the demo project' if args.demo else 'an empty project'} at {path}")
    return 0


def cmd_catalog_import(args: argparse.Namespace) -> int:
    with open_store(args, long_job=True, backup="import") as store:
        counts = import_catalog(store, [Path(p) for p in args.paths])
    print(
        f"skills: {counts['skills_added']} added, {counts['skills_updated']} updated; "
        f"topics: {counts['topics_added']} added"
    )
    return 0


def cmd_catalog_common(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        n = set_common(store, args.skills, common=not args.off)
    print(f"{n} skill(s) {'un' if args.off else ''}flagged as common")
    return 0


def cmd_catalog_list(args: argparse.Namespace) -> int:
    with open_store(args, write=False) as store:
        skills, topics = store.skills(), store.topics()
    if args.json:
        print_json({"skills": skills, "topics": topics})
        return 0
    for s in skills:
        print(f"{'*' if s['common'] else ' '} {s['category'] or '-':<20} {s['name']}")
    print(f"{len(skills)} skills (* = common), {len(topics)} topics: {', '.join(topics)}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    # no backup here: import_sources takes the strict one itself, for the desk and the command alike
    with open_store(args, long_job=True, rolling_backup=False) as store:
        report = import_sources(
            store, [Path(p) for p in args.sources], kind=args.kind, as_drafts=args.as_drafts
        )
    for src, counts in report.items():
        print(f"{src}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        report = sample_into(store, args.k, args.combinations, args.seed, exclude_common=args.exclude_common)
    for row in report["per_k"]:
        row["novelty_bound"] = novelty_bound(row["k"], args.p_skill, args.p_topic, args.corpus)
    if args.json:
        print_json(report)
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
    with open_store(args, write=False) as store:
        info = store.info()
        project = store.project
        path = store.path
    if args.json:
        print_json(info, indent=None)
        return 0
    name = project.get("name") or ""
    # the demo's own name already says so
    demo = " (demo)" if project.get("demo") == "1" and not name.endswith("(demo)") else ""
    print(f"project {name}{demo}  {path}")
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
        from gradeapp.ui.app import run_desk  # Qt loads only when the desk opens
    except ImportError as exc:  # a headless install without Qt's system libraries
        raise GradeappError(f"the desk cannot start: {exc}") from exc
    # refused here in one line: the desk would show a missing file in a message box (and a headless
    # run would wait on it)
    return run_desk(existing_project_path(args.project))
