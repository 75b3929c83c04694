"""Team workflow: split an audit draw into per-annotator packages and merge their work back, exactly.

A package is an ordinary project file (the desk opens it like any other) holding the catalog, the
annotator's generations with their combinations and checks, and the guidelines; never a judge's
verdict or reply. Its `project` table names the parent project (`parent_uuid`), the annotator
(`package_for`) and the package (`package_id`). The parent project records every package it issued
(key `package:<id>` of its `project` table): the annotator and, per generation uid, a SHA-256 of what
the person was shown (uid, text, topic, skills).

Merging checks, before it writes anything, that the package belongs to this project and was issued
by it, that its schema is not newer, that every generation still hashes to what was assigned, that
only the annotator's own human verdicts and reviews are in it, that the guideline versions it cites
are the project's, and that no row contradicts one merged before. Verdict identity is (annotator,
generation uid, criterion, run, created); a row already present is skipped, so merging is idempotent
and a package can be merged again after its annotator went on working. All packages of one call
are merged in one transaction: a refused package leaves the project untouched.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gradeapp.core.rubric import criteria as rubric_criteria
from gradeapp.db import Store, open_project, team_store
from gradeapp.db.connection import now_iso
from gradeapp.db.migrations import APPLICATION_ID, known_migrations
from gradeapp.errors import GradeappError, ProjectError
from gradeapp.paths import file_slug
from gradeapp.services.evidence import merge_package_evidence
from gradeapp.services.guidelines import ensure_guidelines
from gradeapp.services.package_types import (
    MAX_PACKAGE_BYTES,
    PACKAGE_READ_SECONDS,
    check_package_types,
    refuse,
)

PACKAGE_SUFFIX = ".gradeapp"


# -- hashing ----------------------------------------------------------------------------------------
def generation_hash(uid: str, text: str, topic: str, skills: Sequence[str]) -> str:
    """Return the SHA-256 of what a person is shown of a generation (uid, text, topic, skills in order)."""
    payload = json.dumps(
        {"uid": uid, "text": text, "topic": topic, "skills": list(skills)}, ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _hashes(conn: sqlite3.Connection, ids: Sequence[int] | None = None) -> dict[str, str]:
    return {
        r["uid"]: generation_hash(r["uid"], r["text"], r["topic"], r["skills"])
        for r in team_store.generation_fingerprints(conn, ids)
    }


# -- assign -----------------------------------------------------------------------------------------
def plan_assignment(
    generation_ids: Sequence[int], annotators: Sequence[str], overlap: float, copies: int, seed: int
) -> dict[str, list[int]]:
    """Split generations among annotators: a fraction `overlap` goes to `copies` people, the rest to one.

    Load is balanced (least-loaded first, ties broken by the seeded RNG), so that every pair of
    people shares some items when there are enough of them. Deterministic for the same inputs.
    """
    if not annotators:
        raise GradeappError("name at least one annotator (--annotators a,b,c)")
    if len(set(annotators)) != len(annotators):
        raise GradeappError("an annotator is named twice in --annotators")
    if not 0 <= overlap <= 1:
        raise GradeappError(f"--overlap must be between 0 and 1 (got {overlap:g})")
    if overlap > 0 and len(annotators) < 2:
        raise GradeappError("overlap needs at least two annotators")
    if not 2 <= copies <= max(2, len(annotators)):
        raise GradeappError(f"--copies must be between 2 and the number of annotators (got {copies})")
    rng = random.Random(f"gradeapp-assign:{seed}")
    items = sorted(generation_ids)
    rng.shuffle(items)
    n_overlap = round(overlap * len(items))
    load = dict.fromkeys(annotators, 0)
    plan: dict[str, list[int]] = {a: [] for a in annotators}
    pair_count: dict[frozenset[str], int] = {}

    def pick(n: int) -> list[str]:
        chosen: list[str] = []
        for _ in range(n):
            candidates = [a for a in annotators if a not in chosen]
            tie = {a: rng.random() for a in candidates}
            # Spread shared items over all pairs: fewest shared with those already chosen, then least load.
            best = min(
                candidates,
                key=lambda a: (load[a], sum(pair_count.get(frozenset((a, c)), 0) for c in chosen), tie[a]),
            )
            chosen.append(best)
        return chosen

    for i, gid in enumerate(items):
        people = pick(copies if i < n_overlap else 1)
        for j, a in enumerate(people):
            plan[a].append(gid)
            load[a] += 1
            for b in people[j + 1 :]:
                key = frozenset((a, b))
                pair_count[key] = pair_count.get(key, 0) + 1
    return {a: sorted(ids) for a, ids in plan.items()}


def _select_generations(store, draw: str | None, use_all: bool) -> tuple[list[int], str]:
    if use_all and draw:
        raise GradeappError("give either --draw NAME or --all, not both")
    if use_all:
        return team_store.all_generation_ids(store), "project (every generation)"
    found = team_store.draws(store)
    if draw:
        match = [d for d in found if d["name"] == draw]
        if not match:
            names = ", ".join(d["name"] for d in found) or "none yet"
            raise GradeappError(f"no audit draw named '{draw}' (draws: {names})")
        chosen = match[0]
    elif found:
        chosen = found[-1]
    else:
        raise GradeappError(
            "the project has no audit draw: draw one first, or pass --all to split every generation"
        )
    ids = team_store.draw_generation_ids(store, chosen["id"])
    if not ids:
        raise GradeappError(f"the audit draw '{chosen['name']}' has no items")
    return ids, f"audit draw '{chosen['name']}'"


def assign(
    store: Store,
    annotators: Sequence[str],
    out_dir: Path,
    *,
    overlap: float = 0.2,
    copies: int = 2,
    draw: str | None = None,
    use_all: bool = False,
    seed: int = 1,
) -> dict[str, Any]:
    """Write one package per annotator into out_dir and record them in the project; return a report.

    Refuses to overwrite an existing file. Generations come from the named audit draw, else the
    newest draw; with use_all from every generation (a project without a draw needs use_all).
    """
    annotators = [a.strip() for a in annotators if a.strip()]
    ids, source = _select_generations(store, draw, use_all)
    plan = plan_assignment(ids, annotators, overlap, copies, seed)
    stem = file_slug(store.project.get("name") or store.path.stem, "annotator", 80)
    paths = _package_paths(Path(out_dir), stem, annotators)
    ensure_guidelines(store)
    hashes = _hashes(store.conn, ids)
    uid_of = {gid: uid for uid, gid in team_store.uid_ids(store).items()}
    report: dict[str, Any] = {"source": source, "generations": len(ids), "packages": []}
    written: list[Path] = []
    records: dict[str, dict[str, Any]] = {}
    try:
        for person in annotators:
            uids = [uid_of[g] for g in plan[person]]
            written.append(paths[person])
            name = f"{store.project.get('name', stem)}: {person}"
            package_id = _write_package(store, paths[person], name, person, plan[person])
            records[package_id] = {
                "annotator": person,
                "file": paths[person].name,
                "created": now_iso(),
                "source": source,
                "generations": {u: hashes[u] for u in uids},
            }
            entry = {"annotator": person, "path": str(paths[person]), "package_id": package_id}
            report["packages"].append({**entry, "generations": len(uids)})
        # The project learns of the packages only once every file is complete.
        with store.atomic():
            for package_id, record in records.items():
                team_store.save_assignment(store, package_id, record)
    except BaseException:
        for p in written:
            for suffix in ("", "-wal", "-shm"):
                Path(str(p) + suffix).unlink(missing_ok=True)
        raise
    holders = [set(held) for held in plan.values()]
    copies_of = Counter(sum(gid in held for held in holders) for gid in ids)
    report["copies"] = {str(n): count for n, count in sorted(copies_of.items())}
    return report


def _package_paths(out_dir: Path, stem: str, annotators: Sequence[str]) -> dict[str, Path]:
    """Return each annotator's package path in out_dir (created); refuse clashes and existing files."""
    if out_dir.exists() and not out_dir.is_dir():
        raise GradeappError(f"{out_dir}: is a file; --out must be a folder for the package files")
    # file names stay far below the 255 bytes file systems allow, however long the names are
    paths = {a: out_dir / f"{stem}-{file_slug(a, 'annotator', 80)}{PACKAGE_SUFFIX}" for a in annotators}
    if len(set(paths.values())) != len(paths):
        raise GradeappError(
            "two annotator names give the same file name; choose names that differ in letters"
        )
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing:
        raise GradeappError(f"{existing[0]}: already exists (choose another --out folder)")
    out_dir.mkdir(parents=True, exist_ok=True)
    return paths


def _write_package(store: Store, path: Path, name: str, person: str, generation_ids: list[int]) -> str:
    """Write one person's package file (their generations, the catalog, the guidelines); return its id."""
    package_id = str(uuid.uuid4())
    package = open_project(path, name=name)
    try:
        team_store.copy_into_package(store, package, generation_ids)
        with package.atomic():
            package.set_project_value("parent_uuid", store.uuid)
            package.set_project_value("package_for", person)
            package.set_project_value("package_id", package_id)
            package.set_project_value("package_created", now_iso())
            package.grader_id("human", person)
    finally:
        package.close()
    return package_id


# -- merge ------------------------------------------------------------------------------------------
# What merge reads of a package: each must be a plain table (see team_store.schema_problem).
PACKAGE_TABLES = (
    "_sqlite_migrations", "project", "graders", "guidelines", "verdicts", "reviews",
    "generations", "combinations", "combination_skills", "skills", "topics", "evidence",
)  # fmt: skip


def read_package(path: Path) -> dict[str, Any]:
    """Read a package file read-only: its settings, migrations, generations' hashes, verdicts and reviews.

    Only plain tables are read, within PACKAGE_READ_SECONDS, and every value is checked to its type
    (check_package_types); a package that fails is refused in one line.
    """
    path = Path(path)
    if not path.is_file():
        raise ProjectError(f"{path}: no such package file")
    if path.stat().st_size > MAX_PACKAGE_BYTES:
        raise refuse(path, f"over {MAX_PACKAGE_BYTES >> 20} MB, far more than one person's work")
    try:
        conn = team_store.open_readonly(path)
    except sqlite3.DatabaseError as exc:
        raise refuse(path, f"not a gradeapp package ({exc})") from exc
    try:
        with team_store.time_bound(conn, PACKAGE_READ_SECONDS):
            pkg = _read_tables(path, conn)
    except TimeoutError as exc:
        raise refuse(path, f"{exc}: a crafted file?") from None
    except sqlite3.DatabaseError as exc:
        raise refuse(path, f"unreadable ({exc})") from exc
    finally:
        conn.close()
    check_package_types(pkg)
    pkg["hashes"] = {
        r["uid"]: generation_hash(r["uid"], r["text"], r["topic"], r["skills"])
        for r in pkg.pop("fingerprints")
    }
    return pkg


def _read_tables(path: Path, conn: sqlite3.Connection) -> dict[str, Any]:
    tables = team_store.table_names(conn)
    if conn.execute("PRAGMA application_id").fetchone()[0] not in (0, APPLICATION_ID):
        raise refuse(path, "an SQLite file of another program")
    if not {"_sqlite_migrations", "project", "verdicts", "reviews", "generations"} <= tables:
        raise refuse(path, "not a gradeapp project file")
    problem = team_store.schema_problem(conn, PACKAGE_TABLES)
    if problem:
        raise refuse(path, f"tampered: {problem}")
    migrations = team_store.package_migrations(conn)
    unknown = [m for m in migrations if m not in known_migrations()]
    if unknown:
        raise refuse(
            path, f"written by a newer gradeapp (schema {unknown[-1]!r}); upgrade gradeapp, then merge"
        )
    fingerprints = team_store.generation_fingerprints(conn)
    return {
        "path": path,
        "project": team_store.package_project(conn),
        "fingerprints": fingerprints,
        "graders": team_store.package_graders(conn),
        "guidelines": team_store.package_guidelines(conn),
        "verdicts": team_store.package_verdicts(conn),
        "reviews": team_store.package_reviews(conn),
    }


def _check_package(store, pkg: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Check a read package against the project; return its assignment record and the annotator."""
    path, proj = pkg["path"], pkg["project"]
    parent = proj.get("parent_uuid")
    if not parent or not proj.get("package_id"):
        raise refuse(
            path,
            "not an assignment package (no parent_uuid/package_id); use 'gradeapp import' for other files",
        )
    if parent != store.uuid:
        raise refuse(path, f"belongs to another project (parent {parent}, this project is {store.uuid})")
    record = team_store.assignment(store, proj["package_id"])
    if record is None:
        raise refuse(
            path, f"package {proj['package_id']} was not issued by this project (tampered or forged)"
        )
    person = record["annotator"]
    if proj.get("package_for") != person:
        raise refuse(path, f"tampered: issued for '{person}' but says it is for '{proj.get('package_for')}'")
    assigned = record["generations"]
    for uid, digest in pkg["hashes"].items():
        if uid not in assigned:
            raise refuse(path, f"tampered: generation {uid} was not assigned to this package")
        if digest != assigned[uid]:
            raise refuse(path, f"tampered: generation {uid} differs from the text that was assigned")
    for g in pkg["graders"]:
        if g["kind"] != "human" or g["name"] != person:
            raise refuse(
                path, f"tampered: holds work of {g['kind']} '{g['name']}', the package is for '{person}'"
            )
    main_guidelines = team_store.guideline_texts(store)
    for v in sorted({r["guideline_version"] for r in pkg["verdicts"] if r["guideline_version"] is not None}):
        if pkg["guidelines"].get(v) is None or main_guidelines.get(v) != pkg["guidelines"][v]:
            raise refuse(path, f"guideline version {v} of the package is not the project's version {v}")
    return record, person


VERDICT_STATUSES = ("ok", "fractional", "missing", "empty", "unparsed", "retracted")
REVIEW_ACTIONS = ("submit", "unsubmit", "flag", "unflag", "skip", "note")
CLOCK_SKEW = timedelta(minutes=10)  # a package's clock may run a little ahead of ours, no more


def _check_time(path: Path, what: str, value: Any, now: datetime) -> None:
    try:
        stamp = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        stamp = None
    if stamp is None:
        raise refuse(path, f"{what}: 'created' is not a time ({value!r})")
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    if stamp > now + CLOCK_SKEW:
        raise refuse(path, f"{what}: 'created' {value} is in the future")


def _check_rows(store: Store, pkg: dict[str, Any], record: dict[str, Any], uid_ids: dict[str, int]) -> None:
    """Check every row of a package against the project: criterion, run, value, status, action, time."""
    path, now = pkg["path"], datetime.now(UTC)
    ids = [uid_ids[u] for u in record["generations"] if u in uid_ids]
    criteria_of = {
        f["uid"]: set(rubric_criteria(f["skills"]))
        for f in team_store.generation_fingerprints(store.conn, ids)
    }
    for r in [*pkg["verdicts"], *pkg["reviews"]]:
        if r["uid"] not in uid_ids or r["uid"] not in record["generations"]:
            raise refuse(path, f"a row for generation {r['uid']!r}, which was not assigned to this package")
    for r in pkg["verdicts"]:
        what = f"verdict {r['uid']!r} / {r['criterion']!r}"
        if r["criterion"] not in criteria_of.get(r["uid"], ()):
            raise refuse(path, f"{what}: not a criterion of generation {r['uid']}")
        if type(r["run"]) is not int or r["run"] < 1:
            raise refuse(path, f"{what}: run {r['run']!r} is not a whole number >= 1")
        if r["value"] not in (0, 1, None) or type(r["value"]) is float:
            raise refuse(path, f"{what}: value {r['value']!r} is not 0, 1 or empty")
        if r["status"] not in VERDICT_STATUSES:
            raise refuse(path, f"{what}: unknown status {r['status']!r}")
        if r["seconds"] is not None and (not isinstance(r["seconds"], int | float) or r["seconds"] < 0):
            raise refuse(path, f"{what}: seconds {r['seconds']!r} is not a duration")
        _check_time(path, what, r["created"], now)
    for r in pkg["reviews"]:
        what = f"review {r['uid']!r} / {r['action']!r}"
        if r["action"] not in REVIEW_ACTIONS:
            raise refuse(path, f"{what}: unknown action")
        _check_time(path, what, r["created"], now)


def _new_rows(
    path: Path, person: str, rows: list[dict], have: dict[tuple, dict], key_fields: tuple, fields: tuple
) -> list[dict]:
    """Return the rows not merged before, in the package's own order; refuse a changed one."""
    new, seen = [], dict(have)
    for r in rows:
        key = tuple(r[f] for f in key_fields)
        content = {f: r[f] for f in fields}
        old = seen.get(key)
        if old is not None:
            if {f: old[f] for f in fields} != content:
                identity = " / ".join(str(k) for k in key)
                raise refuse(
                    path,
                    f"conflict: {person} / {identity} differs from the row with the same identity merged before",
                )
            continue
        seen[key] = content
        new.append(r)
    return new


def _merge_one(store: Store, pkg: dict[str, Any], uid_ids: dict[str, int]) -> dict[str, Any]:
    record, person = _check_package(store, pkg)
    path = pkg["path"]
    missing = [u for u in record["generations"] if u not in uid_ids]
    if missing:
        raise refuse(path, f"generation {missing[0]} is no longer in this project")
    _check_rows(store, pkg, record, uid_ids)
    grader = store.grader_id("human", person)
    issued = record.get("created") or ""
    common = {"grader_id": grader, "merged_from": issued}
    verdicts = _new_rows(
        path, person, pkg["verdicts"], team_store.existing_verdicts(store, grader),
        ("uid", "criterion", "run", "created"), team_store.MERGED_VERDICT_FIELDS,
    )  # fmt: skip
    reviews = _new_rows(
        path, person, pkg["reviews"], team_store.existing_reviews(store, grader),
        ("uid", "action", "created"), team_store.MERGED_REVIEW_FIELDS,
    )  # fmt: skip
    # The package's own order (its ids) is its history; rows of packages the parent issued later stay
    # after these, so what is current never depends on the order of merging nor on a package's clock.
    added_v = team_store.insert_verdicts(
        store, [{**r, **common, "generation_id": uid_ids[r["uid"]]} for r in verdicts]
    )
    added_r = team_store.insert_reviews(
        store, [{**r, **common, "generation_id": uid_ids[r["uid"]]} for r in reviews]
    )
    touched = {uid_ids[r["uid"]] for r in verdicts} | {uid_ids[r["uid"]] for r in reviews}
    if issued and touched:
        team_store.resequence(store, "verdicts", grader, touched, issued)
        team_store.resequence(store, "reviews", grader, touched, issued)
    evidence_added = merge_package_evidence(store, path, grader, person, uid_ids, issued)
    counts = {
        "evidence_added": evidence_added,
        "verdicts_added": added_v,
        "verdicts_known": len(pkg["verdicts"]) - added_v,
        "reviews_added": added_r,
        "reviews_known": len(pkg["reviews"]) - added_r,
        "generations_touched": len({uid_ids[r["uid"]] for r in verdicts}),
    }
    store.log_import("package", str(path), pkg["project"]["package_id"], counts)
    return {"package": str(path), "annotator": person, "package_id": pkg["project"]["package_id"], **counts}


def merge_packages(store: Store, paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Merge packages' human verdicts and reviews into the project, in one transaction; return per-package counts.

    Idempotent and exact: rows are matched by identity and only new ones are added. Every row is
    checked against the project first. Raises PackageRefused (and changes nothing) when any package
    fails a check. The caller keeps a backup first (gradeapp.services.backup).
    """
    packages = [read_package(Path(p)) for p in paths]
    uid_ids = team_store.uid_ids(store)
    with store.atomic():
        return [_merge_one(store, pkg, uid_ids) for pkg in packages]


def package_person(store: Store) -> str | None:
    """Return the annotator a package was made for, or None when the project is not a package."""
    return store.project.get("package_for")


def package_status(store: Store) -> list[dict[str, Any]]:
    """Return every package the project issued with what has been merged from it so far (read-only)."""
    merged: dict[str, dict[str, int]] = {}
    for sha, c in team_store.package_merge_counts(store):
        m = merged.setdefault(sha, {"merges": 0, "verdicts_added": 0})
        m["merges"] += 1
        m["verdicts_added"] += c.get("verdicts_added", 0)
    return [
        {
            "package_id": pid,
            "annotator": rec["annotator"],
            "file": rec.get("file"),
            "generations": len(rec["generations"]),
            "created": rec.get("created"),
            **merged.get(pid, {"merges": 0, "verdicts_added": 0}),
        }
        for pid, rec in sorted(
            team_store.assignments(store).items(), key=lambda kv: kv[1].get("created") or ""
        )
    ]
