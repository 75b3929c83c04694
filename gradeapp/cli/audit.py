"""CLI of the judge audit: `audit draw`, `audit list`, `audit plan`, `stats`, `export`."""

from __future__ import annotations

import argparse
from pathlib import Path

from gradeapp.cli.options import BOOTSTRAP, CONFIDENCE, FRACTION, HALF_WIDTH, SEED, open_store, whole
from gradeapp.cli.output import print_json
from gradeapp.core.agreement import AGREEMENT_SUMMARY_COLUMNS
from gradeapp.core.calibration import plan_audit
from gradeapp.core.summary import audit_status, headline_lines, omitted
from gradeapp.services.audit import ACTIVE_FLOOR, draw_audit, load_audit_data
from gradeapp.services.draw_listing import list_draws
from gradeapp.services.export import export_project
from gradeapp.services.stats import StatsOptions, compute_stats


def _stats_options(args: argparse.Namespace):

    return StatsOptions(
        judge=args.judge,
        draw=args.draw,
        exclude_common=not args.include_common,
        naming_penalty=not args.no_naming_penalty,
        confidence=args.confidence,
        threshold=args.threshold,
        bootstrap=args.bootstrap,
        seed=args.seed,
        target_half_width=getattr(args, "target", 0.05),
    )


def cmd_audit_draw(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        report = draw_audit(
            store,
            args.size,
            design=args.design,
            per_cell=args.per_cell,
            by_verdict=args.by_verdict,
            seed=args.seed,
            name=args.name,
            exclude_common=not args.include_common,
            floor=args.floor,
            grounding=args.grounding,
        )
    if args.json:
        print_json(report)
        return 0
    print(
        f"drew {report['n']} generations into {report['name']!r} (design {report['design']}, seed {report['seed']}, "
        f"pool {report['params']['pool']})"
    )
    for s in report["strata"]:
        mean = " (mean)" if report["design"] == "active" else ""
        print(f"  {s['stratum']:<40} {s['n']:>6}  inclusion probability{mean} {s['inclusion_prob']:.4g}")
    return 0


def cmd_audit_list(args: argparse.Namespace) -> int:
    with open_store(args, write=False) as store:
        out = list_draws(store, args.name)
    if args.json:
        print_json(out)
        return 0
    if not out:
        print("no audit draws yet (gradeapp audit draw --size N --seed S)")
    for d in out:
        print(f"# {d['name']}: design {d['design']}, seed {d['seed']}, {len(d['generations'])} generations")
        for uid in d["generations"]:
            print(uid)
    return 0


def cmd_audit_plan(args: argparse.Namespace) -> int:
    with open_store(args, write=False) as store:
        data = load_audit_data(
            store, judge=args.judge, draw=args.draw, exclude_common=not args.include_common
        )
    plan = plan_audit(data, args.target, confidence=args.confidence, metric=args.metric)
    if args.json:
        print_json(plan.to_dict("records"))
        return 0
    print(plan.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with open_store(args, write=False) as store:
        stats = compute_stats(store, _stats_options(args))
    if args.json:
        print_json(stats.summary())
        return 0
    fmt = {"float_format": lambda x: f"{x:.3f}", "index": False}
    d = stats.data
    print(
        f"judge: {d.judge_name}; audit draw: {d.draw['name'] if d.draw else 'none'}; "
        f"{len(d.gens)} generations, {len(d.human_gen)} graded by people"
    )
    print(f"{audit_status(d, stats.pass_rates)}\n")
    print("== the answer: full marks per student and k (calibrated = PPI++) ==")
    print("\n".join(headline_lines(stats.pass_rates, data=d)))
    shown, left_out = omitted(stats.pass_rates)
    print("\n== pass rates (per generation) ==")
    print(shown.drop(columns=["note", "design", "confidence"]).to_string(**fmt))
    for line in left_out:
        print(line)
    a = stats.agreement
    print("\n== agreement, overall ==")
    if a.empty:
        print("no generation graded by both the judge and a person")
    else:
        o = a[a["breakdown"] == "overall"]
        print(o.reindex(columns=AGREEMENT_SUMMARY_COLUMNS).to_string(**fmt))
    print("\n== people with people ==")
    print(
        stats.human_human.to_string(**fmt) if not stats.human_human.empty else "no item graded by two people"
    )
    print("\n== the judge with itself ==")
    print(stats.self_consistency.to_string(**fmt) if not stats.self_consistency.empty else "no judge runs")
    print("\n== Skill-Mix table ==")
    print(stats.skillmix.to_string(**fmt) if not stats.skillmix.empty else "no scores")
    print("\n== excluded ==")
    for e in d.exclusions or [{"what": "nothing", "n": 0, "why": ""}]:
        print(f"{e['n']:>7} {e['what']}: {e['why']}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    with open_store(args, write=False) as store:
        paths = export_project(store, Path(args.out) if args.out else None, _stats_options(args))
    for name, path in paths.items():
        print(f"{name:>16}: {path}")
    return 0


def _stat_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--judge", help="judge grader name (default: the judge with the most verdicts)")
    p.add_argument("--draw", help="audit draw name (default: the latest)")
    p.add_argument("--include-common", action="store_true", help="keep combinations with common skills")
    p.add_argument("--no-naming-penalty", action="store_true", help="do not zero a skill named in the text")
    p.add_argument("--confidence", type=CONFIDENCE, default=0.95, help="confidence level (default 0.95)")
    p.add_argument(
        "--threshold", type=FRACTION, default=0.5, help="skill-fraction pass threshold (default 0.5)"
    )
    p.add_argument(
        "--bootstrap", type=BOOTSTRAP, default=1000, help="bootstrap resamples, 0 for none (default 1000)"
    )
    p.add_argument("--seed", type=SEED, default=0, help="bootstrap seed (default 0)")


def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add the audit commands to the gradeapp CLI."""
    audit = subparsers.add_parser("audit", help="draw and list audit samples for people to grade")
    asub = audit.add_subparsers(dest="audit_command", required=True)
    _register_draw(asub, common)
    p = asub.add_parser("list", parents=[common], help="print the drawn generation ids")
    p.add_argument("--name", help="only this draw")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_audit_list)
    p = asub.add_parser(
        "plan", parents=[common], help="how many more generations to grade for a CI half-width"
    )
    p.add_argument("--target", type=HALF_WIDTH, default=0.05, help="target half-width (default 0.05)")
    p.add_argument("--metric", choices=["full_marks", "all_skills", "skill_fraction"], default="full_marks")
    p.add_argument("--judge")
    p.add_argument("--draw")
    p.add_argument("--include-common", action="store_true")
    p.add_argument("--confidence", type=CONFIDENCE, default=0.95)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_audit_plan)

    p = subparsers.add_parser(
        "stats", parents=[common], help="agreement, Skill-Mix scores and calibrated pass rates"
    )
    _stat_args(p)
    p.add_argument("--target", type=HALF_WIDTH, default=0.05, help="planner target half-width (default 0.05)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = subparsers.add_parser(
        "export",
        parents=[common],
        help="write pass_rates.csv, agreement.csv, verdicts.csv/.parquet, annotators.csv, report.html, "
        "headline.tex/.md, k_curve.svg/.pdf, agreement.svg/.pdf",
    )
    p.add_argument("--out", metavar="DIR", help="folder (default exports/<project>-<timestamp>/)")
    _stat_args(p)
    p.set_defaults(func=cmd_export)


def _register_draw(asub, common: argparse.ArgumentParser) -> None:
    """Add `gradeapp audit draw`."""
    p = asub.add_parser(
        "draw", parents=[common], help="draw generations for people to grade (a known design)"
    )
    p.add_argument(
        "--size",
        type=whole(1, 10_000_000),
        required=True,
        help="generations to draw (per cell with --per-cell)",
    )
    p.add_argument("--per-cell", action="store_true", help="draw --size from every student x k cell")
    p.add_argument(
        "--design",
        choices=["uniform", "stratified", "active"],
        default="uniform",
        help="active: Poisson sampling, more likely where the judge's runs disagree (--size is the expected size)",
    )
    p.add_argument(
        "--floor",
        type=FRACTION,
        default=ACTIVE_FLOOR,
        help=f"active only: share of the draw spread uniformly, so every generation can be drawn (default {ACTIVE_FLOOR})",
    )
    p.add_argument(
        "--grounding",
        action="store_true",
        help="active only: also more likely where the judge's credited points lack a grounded quote (docs/evidence.md)",
    )
    p.add_argument(
        "--by-verdict",
        action="store_true",
        help="stratified only: split cells by the judge's full-marks verdict, half the draw each",
    )
    p.add_argument("--seed", type=SEED, required=True)
    p.add_argument("--name", help="name of the draw (default audit-<n>)")
    p.add_argument(
        "--include-common", action="store_true", help="draw also from combinations with common skills"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_audit_draw)
