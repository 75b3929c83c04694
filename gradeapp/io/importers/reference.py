"""Import the reference implementation's run folders: records.csv of a student, graded/ runs beside it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gradeapp.core.evidence import quote_rows
from gradeapp.core.parsing import extract_answer_reference, parse_judge_reply
from gradeapp.db import Store, evidence_store
from gradeapp.db.connection import now_iso
from gradeapp.errors import InputError
from gradeapp.io.importers.combinations import CombinationResolver
from gradeapp.io.importers.fields import int_field
from gradeapp.io.text import read_csv_rows

RUN_DIR = re.compile(r"^k(?P<k>\d+)_s(?P<seed>\d+)_v(?P<version>.+?)_r(?P<round>\d+)$")
GRADED_DIR = re.compile(r"^by_(?P<judge>.+?)_on_(?P<column>text_\d+)(?:_(?P<run>\d+))?(?:_(?P<prompt>.+))?$")
_COUNTS = ("generations_added", "replies_added", "verdicts_added")


def find_reference_runs(root: Path) -> list[Path]:
    """Return the student folders (holding records.csv) below root, in the reference layout."""
    return sorted(p.parent for p in root.rglob("records.csv") if "graded" not in p.parts[len(root.parts) :])


def _turns(row: dict) -> tuple[list[dict], list[str]]:
    """Return the conversation (system, user, assistant...) and the assistant replies of a records row."""
    pairs = [("user_{}", "assistant_{}"), ("[INST]_{}", "[/INST]_{}")]
    messages: list[dict] = []
    if row.get("system prompt"):
        messages.append({"role": "system", "content": row["system prompt"]})
    replies: list[str] = []
    for user_col, assistant_col in pairs:
        turn = 0
        while user_col.format(turn) in row:
            messages.append({"role": "user", "content": row[user_col.format(turn)]})
            messages.append({"role": "assistant", "content": row.get(assistant_col.format(turn), "")})
            replies.append(row.get(assistant_col.format(turn), ""))
            turn += 1
        if replies:
            break
    return messages, replies


def _split_skills(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def _generation_of_row(
    store: Store, resolver: CombinationResolver, records: Path, line: int, row: dict, run: dict
) -> tuple[int, list[str], str, bool]:
    """Store one records.csv row as a generation unless it is there; return (id, skills, topic, added)."""
    for name in ("k", "skills", "topic"):
        if name not in row:
            raise InputError("missing column", file=records, line=1, field=name)
    skills = _split_skills(row["skills"])
    k = int_field(row, "k", records, line, minimum=1)
    if k != len(skills) or k != run["k"]:
        raise InputError(
            f"k = {k} but {len(skills)} skills (folder says k = {run['k']})",
            file=records,
            line=line,
            field="k",
        )
    topic = row["topic"].strip()
    combination_id = resolver.combination(skills, topic, records, line, run["seed"])
    messages, replies = _turns(row)
    if not replies:
        raise InputError(
            "no conversation columns (user_0/assistant_0 or [INST]_0/[/INST]_0)",
            file=records,
            line=line,
            field="user_0",
        )
    uid = f"ref:{run['dir']}/{records.parent.name}/{run['index']}"
    gid = store.generation_id(uid)
    if gid is not None:
        return gid, skills, topic, False
    meta = {"run": run["dir"], "row": run["index"], "prompt_version": run["version"], "seed": run["seed"]}
    conversation = json.dumps(messages, ensure_ascii=False)
    text = extract_answer_reference(replies[-1])
    row_values = (uid, combination_id, records.parent.name, run["round"], conversation, replies[-1], text)
    store.insert_generations(
        [(*row_values, f"reference:{run['dir']}", json.dumps({"reference": meta}), run["stamp"])]
    )
    return store.generation_id(uid), skills, topic, True


def import_reference_run(store: Store, folder: Path, resolver: CombinationResolver) -> dict[str, int]:
    """Import one reference student folder: its generations and every graded/ run beside them."""
    match = RUN_DIR.match(folder.parent.name)
    if not match:
        raise InputError(
            "the folder above the student folder must be named like k3_s10_vdefault_r1", file=folder.parent
        )
    run = {
        "dir": folder.parent.name,
        "k": int(match["k"]),
        "seed": int(match["seed"]),
        "version": match["version"],
        "round": int(match["round"]),
        "stamp": now_iso(),
    }
    counts = dict.fromkeys(_COUNTS, 0)
    records = folder / "records.csv"
    generations: list[tuple[int, list[str], str]] = []
    for index, (line, row) in enumerate(read_csv_rows(records)):
        gid, skills, topic, added = _generation_of_row(
            store, resolver, records, line, row, {**run, "index": index}
        )
        counts["generations_added"] += added
        generations.append((gid, skills, topic))
    graded_root = folder / "graded"
    if graded_root.is_dir():
        for graded_dir in sorted(p for p in graded_root.iterdir() if p.is_dir()):
            _import_graded(store, graded_dir, generations, counts)
    return counts


def _graded_run(graded_dir: Path) -> tuple[str, int, str]:
    """Return (judge, run, prompt) from a graded folder's name; run 0 is refused (runs count from 1)."""
    match = GRADED_DIR.match(graded_dir.name)
    if not match or not (graded_dir / "records.csv").exists():
        raise InputError("expected graded/by_<judge>_on_text_1_<run>_<prompt>/records.csv", file=graded_dir)
    run = int(match["run"] or 1)
    if run < 1:
        raise InputError(
            f"run {match['run']} in the folder name: runs are numbered from 1 "
            "(by_<judge>_on_text_1_<run>_<prompt>)",
            file=graded_dir,
        )
    return match["judge"], run, match["prompt"] or "default"


def _import_graded(
    store: Store, graded_dir: Path, generations: list[tuple[int, list[str], str]], counts: dict[str, int]
) -> None:
    """Import one graded/ run: each row's judge reply and the verdicts parsed from it."""
    judge, run, prompt = _graded_run(graded_dir)
    records = graded_dir / "records.csv"
    grader_id = store.grader_id("judge", judge, model=judge, prompt_version=f"reference:{prompt}")
    for index, (line, row) in enumerate(read_csv_rows(records)):
        if index >= len(generations):
            raise InputError(
                f"graded row {index + 1} has no generation row to match", file=records, line=line
            )
        gid, skills, topic = generations[index]
        if _split_skills(row.get("skills", "")) != skills or row.get("topic", "").strip() != topic:
            raise InputError(
                "skills/topic differ from the generation in the same row",
                file=records,
                line=line,
                field="skills",
            )
        reply_col = next((c for c in ("assistant_0", "[/INST]_0") if c in row), None)
        if reply_col is None:
            raise InputError("missing column", file=records, line=1, field="assistant_0")
        if store.reply_id(grader_id, gid, run) is not None:
            continue  # imported before: verdicts of this run are already stored
        raw = row[reply_col]
        parsed = parse_judge_reply(raw, skills, topic)
        reply_id = store.add_reply(grader_id, gid, run, raw, parsed.status, request=row.get("user_0"))
        counts["replies_added"] += 1
        counts["verdicts_added"] += store.add_verdicts(
            {
                "grader_id": grader_id,
                "generation_id": gid,
                "criterion": criterion,
                "run": run,
                "value": point.value,
                "raw_value": point.raw_value,
                "status": point.status,
                "reply_id": reply_id,
                "reason": point.reason,
                "match_method": point.match,
            }
            for criterion, point in parsed.points.items()
        )
        _store_reference_quotes(store, grader_id, gid, run, reply_id, raw, skills, topic)


def _store_reference_quotes(store, grader_id, gid, run, reply_id, raw, skills, topic) -> None:
    """Store the quoted passages of a reference reply's explanations, each checked against the text."""
    text = evidence_store.generation_texts(store, [gid]).get(gid, "")
    base = {"grader_id": grader_id, "generation_id": gid, "run": run}
    quotes = ({**base, **quote} for quote in quote_rows(raw, text, skills, topic))
    evidence_store.replace_reply_evidence(store.conn, reply_id, quotes)


def import_reference(store: Store, root: Path) -> dict[str, int]:
    """Import every reference run folder below root in one transaction."""
    folders = find_reference_runs(root)
    if not folders:
        raise InputError("no records.csv found in the reference layout", file=root)
    total = dict.fromkeys(_COUNTS, 0)
    with store.atomic():
        resolver = CombinationResolver(store)
        for folder in folders:
            for key, count in import_reference_run(store, folder, resolver).items():
                total[key] += count
        store.log_import("reference", str(root), None, total)
    return total
