"""CLI of the judge comparison: `judges compare`."""

from __future__ import annotations

import argparse

from gradeapp.cli.options import BOOTSTRAP, CONFIDENCE, FRACTION, SEED, open_store
from gradeapp.cli.output import print_json
from gradeapp.services.evidence import evidence_statistics
from gradeapp.services.judges import compare_project_judges


def cmd_judges_compare(args: argparse.Namespace) -> int:
    """Rank the project's judges against people on the same audited generations."""
    wanted = [j.strip() for j in args.judges.split(",") if j.strip()] if args.judges else None
    with open_store(args) as store:
        cmp = compare_project_judges(
            store,
            wanted,
            draw=args.draw,
            exclude_common=not args.include_common,
            threshold=args.threshold,
            bootstrap=args.bootstrap,
            seed=args.seed,
            confidence=args.confidence,
        )
        tables = evidence_statistics(store, bootstrap=min(args.bootstrap, 200), seed=args.seed)
    if args.json:
        print_json({**cmp.summary(), "evidence": {name: t.to_dict("records") for name, t in tables.items()}})
        return 0
    fmt = {"float_format": lambda x: f"{x:.3f}", "index": False}
    print(f"{len(cmp.judges)} judges on {cmp.n_generations} generations graded by people and every judge")
    print(cmp.sentence)
    print("\n== each judge against people ==")
    cols = ["judge", "criterion", "n", "agreement", "kappa", "kappa_low", "kappa_high"]
    cols += ["sensitivity", "specificity", "bias", "pairwise", "ppi_half_width"]
    print(cmp.table()[cols].to_string(**fmt))
    print("\n== paired differences (b - a), bootstrap over generations; exact McNemar ==")
    print(cmp.pairs.to_string(**fmt) if not cmp.pairs.empty else "no shared points")
    print("\n== cost (job records) ==")
    print(cmp.costs.to_string(**fmt))
    print_evidence(tables, fmt)
    return 0


def print_evidence(tables: dict, fmt: dict) -> None:
    """Print the judges' quote grounding, agreement split by it, and span agreement."""
    print("\n== evidence: credited points with a grounded quote (Wilson interval) ==")
    grounding = tables["grounding_by_k"]
    print(grounding.to_string(**fmt) if not grounding.empty else "no credited judge points")
    print("\n== evidence: people credit the judge's credited points, grounded quote vs not (Newcombe) ==")
    split = tables["grounded_agreement"]
    print(split.to_string(**fmt) if not split.empty else "no point graded by people and credited by a judge")
    print("\n== evidence: span agreement (token F1, Krippendorff alpha over tokens; bootstrap) ==")
    print(tables["span_agreement"].to_string(**fmt))


def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add the judge commands to the gradeapp CLI."""
    judges = subparsers.add_parser("judges", help="compare judge configurations against people")
    jsub = judges.add_subparsers(dest="judges_command", required=True)
    p = jsub.add_parser(
        "compare",
        parents=[common],
        help="agreement, kappa, paired differences, self-consistency, cost and PPI++ width per judge",
    )
    p.add_argument("--judges", metavar="A,B,...", help="judge names or keys (default: every judge)")
    p.add_argument("--draw", help="audit draw for the PPI++ widths (default: the latest)")
    p.add_argument("--include-common", action="store_true", help="keep combinations with common skills")
    p.add_argument(
        "--threshold", type=FRACTION, default=0.5, help="skill-fraction pass threshold (default 0.5)"
    )
    p.add_argument("--confidence", type=CONFIDENCE, default=0.95, help="confidence level (default 0.95)")
    p.add_argument(
        "--bootstrap", type=BOOTSTRAP, default=1000, help="paired bootstrap resamples (default 1000)"
    )
    p.add_argument("--seed", type=SEED, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_judges_compare)
