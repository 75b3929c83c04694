"""Import generations and verdicts: reference run folders and our generic JSONL/CSV formats.

Every import runs in one transaction: on the first bad record it raises an InputError naming the
file, line and field, and the project is left exactly as it was. Re-importing adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from gradeapp.core.evidence import quote_rows
from gradeapp.core.parsing import MATCH_METHODS, extract_answer_reference, parse_judge_reply
from gradeapp.core.rubric import SKILL_PREFIX
from gradeapp.core.rubric import criteria as rubric_criteria
from gradeapp.db import Store, evidence_store
from gradeapp.db.audit_store import active_draw_generations, decided_criteria, is_submitted
from gradeapp.db.connection import now_iso
from gradeapp.db.judge_store import generation_contents
from gradeapp.errors import InputError
from gradeapp.io.evidence_fields import FIELD as EVIDENCE_FIELD
from gradeapp.io.evidence_fields import parse_evidence
from gradeapp.io.tables import restore
from gradeapp.io.text import read_csv_rows, read_jsonl

BATCH = 20_000
RUN_DIR = re.compile(r"^k(?P<k>\d+)_s(?P<seed>\d+)_v(?P<version>.+?)_r(?P<round>\d+)$")
GRADED_DIR = re.compile(r"^by_(?P<judge>.+?)_on_(?P<column>text_\d+)(?:_(?P<run>\d+))?(?:_(?P<prompt>.+))?$")
KINDS = ("judge", "human", "adjudicator")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError as exc:
        raise InputError(
            f"the file was removed or changed during the import ({exc.strerror}); nothing was imported",
            file=path,
        ) from None
    return h.hexdigest()


# -- shared resolution of catalog names -----------------------------------------------------------
class _Resolver:
    """Resolve skill and topic names to a combination id, with errors located in the input."""

    def __init__(self, store) -> None:
        self.store = store
        self.skill_ids = store.skill_ids()
        self.topic_ids = store.topic_ids()
        self._combos: dict[tuple, int] = {}

    def combination(
        self, skills: list[str], topic: str, file: Path, line: int, seed: int | None = None
    ) -> int:
        ids = []
        for s in skills:
            sid = self.skill_ids.get(s)
            if sid is None:
                raise InputError(
                    f"unknown skill {s!r} (import the catalog first)", file=file, line=line, field="skills"
                )
            ids.append(sid)
        if len(set(ids)) != len(ids):
            raise InputError("a skill is listed twice", file=file, line=line, field="skills")
        tid = self.topic_ids.get(topic)
        if tid is None:
            raise InputError(
                f"unknown topic {topic!r} (import the catalog first)", file=file, line=line, field="topic"
            )
        key = (tuple(ids), tid)
        cid = self._combos.get(key)
        if cid is None:
            cid = self.store.combination_id(ids, tid, seed)
            self._combos[key] = cid
        return cid


# -- generic generations --------------------------------------------------------------------------
def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if path.suffix == ".csv":
        yield from read_csv_rows(path)
    elif path.suffix == ".parquet":
        yield from _parquet_rows(path)
    else:
        yield from read_jsonl(path)


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (row number, record) of a Parquet file (as written by 'gradeapp export'); nulls become None."""
    import pandas as pd

    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(f"not a readable Parquet file ({exc})", file=path) from None
    df = df.astype(object).where(df.notna(), None)
    yield from enumerate(df.to_dict("records"), 1)


def _restore_csv_cells(obj: dict[str, Any]) -> dict[str, Any]:
    """Undo the formula-injection quote of our CSV exports (see gradeapp.io.tables.neutralise)."""

    return {k: restore(v) if isinstance(v, str) else v for k, v in obj.items()}


def _text_field(obj: dict, name: str, file: Path, line: int, *, required: bool = True, allow_empty=False):
    value = obj.get(name)
    if value is None or (value == "" and not allow_empty and required):
        if required:
            raise InputError("missing", file=file, line=line, field=name)
        return None
    if not isinstance(value, str):
        raise InputError(f"expected text, got {type(value).__name__}", file=file, line=line, field=name)
    return value


INT64_MAX = 2**63 - 1  # the largest whole number SQLite stores


def _int_field(
    obj: dict,
    name: str,
    file: Path,
    line: int,
    default: int | None = None,
    minimum: int = 0,
    maximum: int = INT64_MAX,
):
    value = obj.get(name)
    if value is None or value == "":
        if default is None:
            raise InputError("missing", file=file, line=line, field=name)
        return default
    if isinstance(value, bool):
        raise InputError(f"expected a whole number, got {value!r}", file=file, line=line, field=name)
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise InputError(
                f"expected a whole number, got {value!r}", file=file, line=line, field=name
            ) from None
    if not isinstance(value, int) or value < minimum:
        raise InputError(
            f"expected a whole number >= {minimum}, got {str(value)[:40]!r}", file=file, line=line, field=name
        )
    if value > maximum:
        raise InputError(f"too large (at most {maximum:,})", file=file, line=line, field=name)
    return value


def _number_field(obj: dict, name: str, file: Path, line: int) -> float | None:
    """Return a finite number (or None when absent); anything else is an InputError naming the field."""
    value = obj.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(f"expected a number, got {type(value).__name__}", file=file, line=line, field=name)
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise InputError(
            f"expected a number, got {str(value)[:40]!r}", file=file, line=line, field=name
        ) from None
    if not math.isfinite(number):
        raise InputError(
            f"expected a finite number, got {str(value)[:40]!r}", file=file, line=line, field=name
        )
    return number


def _time_field(obj: dict, name: str, file: Path, line: int) -> str | None:
    """Return an ISO 8601 time (text), or None when absent."""
    value = _text_field(obj, name, file, line, required=False)
    if not value:
        return None
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"expected an ISO 8601 time, got {value[:40]!r}", file=file, line=line, field=name
        ) from None
    return value


def _skills_field(obj: dict, file: Path, line: int) -> list[str]:
    skills = obj.get("skills")
    if isinstance(skills, str):
        try:
            skills = json.loads(skills) if skills.strip().startswith("[") else skills.split("|")
        except (json.JSONDecodeError, RecursionError):
            raise InputError(
                "expected a JSON list of skill names", file=file, line=line, field="skills"
            ) from None
    if not isinstance(skills, list) or not skills or not all(isinstance(s, str) for s in skills):
        raise InputError("expected a non-empty list of skill names", file=file, line=line, field="skills")
    return [s.strip() for s in skills]


def _json_field(obj: dict, name: str, file: Path, line: int) -> str | None:
    value = obj.get(name)
    if value is None or value == "":
        return None
    try:
        if isinstance(value, str) and name == "meta":
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise InputError("expected a JSON object", file=file, line=line, field=name) from None
        if name == "meta" and not isinstance(value, dict):
            raise InputError("expected a JSON object", file=file, line=line, field=name)
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    except RecursionError:
        raise InputError("JSON nested too deeply", file=file, line=line, field=name) from None


def _validate_generation(
    obj: dict, path: Path, line: int, resolver: _Resolver, stamp: str, source: str
) -> tuple:
    uid = obj.get("id")
    if isinstance(uid, int) and not isinstance(uid, bool):
        uid = str(uid)
    if not isinstance(uid, str) or not uid.strip():
        raise InputError("missing or not text", file=path, line=line, field="id")
    student = _text_field(obj, "student", path, line)
    k = _int_field(obj, "k", path, line, minimum=1)
    skills = _skills_field(obj, path, line)
    if len(skills) != k:
        raise InputError(f"k = {k} but {len(skills)} skills are listed", file=path, line=line, field="k")
    topic = _text_field(obj, "topic", path, line)
    text = _text_field(obj, "text", path, line, allow_empty=True)
    rnd = _int_field(obj, "round", path, line, default=1, minimum=1)
    cid = resolver.combination(skills, topic, path, line)
    return (
        uid,
        cid,
        student,
        rnd,
        _json_field(obj, "prompt", path, line),
        _json_field(obj, "raw_reply", path, line),
        text or "",
        obj.get("source") if isinstance(obj.get("source"), str) else source,
        _json_field(obj, "meta", path, line),
        _time_field(obj, "created", path, line) or stamp,
    )


_FAST_KEYS = frozenset(("id", "student", "k", "skills", "topic", "text", "round"))


def generation_rows(store: Store, path: Path, resolver: _Resolver | None = None) -> Iterator[tuple]:
    """Validate a generic generations file and yield store-ready tuples (see GENERATION_COLUMNS).

    The common shape (plain fields, known combination) takes a fast path; anything else goes
    through the full validation, which names the line and field of the first problem.
    """
    resolver = resolver or _Resolver(store)
    seen: set[str] = set()
    stamp = now_iso()
    source = f"import:{path.name}"
    combos: dict[tuple, int] = {}
    for line, obj in _records(path):
        uid = obj.get("id")
        skills = obj.get("skills")
        row = None
        if (
            obj.keys() <= _FAST_KEYS
            and type(uid) is str
            and uid
            and type(skills) is list
            and type(obj.get("student")) is str
            and obj["student"]
            and type(obj.get("k")) is int
            and len(skills) == obj["k"]
            and type(obj.get("text")) is str
            and type(obj.get("round", 1)) is int
            and obj.get("round", 1) >= 1
        ):
            cid = combos.get((obj.get("topic"), *skills))
            if cid is not None:
                row = (
                    uid,
                    cid,
                    obj["student"],
                    obj.get("round", 1),
                    None,
                    None,
                    obj["text"],
                    source,
                    None,
                    stamp,
                )
        if row is None:
            row = _validate_generation(obj, path, line, resolver, stamp, source)
            if obj.keys() <= _FAST_KEYS:
                combos[(obj["topic"], *skills)] = row[1]
        if row[0] in seen:
            raise InputError(f"duplicate id {row[0]!r}", file=path, line=line, field="id")
        seen.add(row[0])
        yield row


def _batched(rows: Iterable[tuple], size: int = BATCH) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for r in rows:
        batch.append(r)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def import_generations(store: Store, path: Path) -> dict[str, int]:
    """Import a generic generations file (JSONL or CSV); return counts. All or nothing."""
    added = read = 0
    with store.atomic():
        for batch in _batched(generation_rows(store, path)):
            read += len(batch)
            n = store.insert_generations(batch)
            if n < len(batch):
                _refuse_changed_generations(store, path, batch)
            added += n
        counts = {"generations_read": read, "generations_added": added}
        store.log_import("generations", str(path), _sha256(path), counts)
    return counts


def _refuse_changed_generations(store, path: Path, rows: list[tuple]) -> None:
    """Refuse rows whose id is already in the project with another text, student, round or combination."""
    stored = generation_contents(store, [r[0] for r in rows])
    for uid, cid, student, rnd, *_rest in rows:
        text = _rest[2]
        old = stored.get(uid)
        if old is not None and old != (cid, student, rnd, text):
            raise InputError(
                f"id {uid!r} is already in the project with a different text, student, round or skills/topic "
                "(give the new generation another id)",
                file=path,
                field="id",
            )


# -- generic verdicts -----------------------------------------------------------------------------
_VALUE_WORDS = {"1": 1, "0": 0, "true": 1, "false": 0, "pass": 1, "fail": 0}


def _verdict_value(obj: dict, path: Path, line: int) -> tuple[int | None, str]:
    value = obj.get("value")
    status = obj.get("status") or None
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, float) and value in (0.0, 1.0):
        value = int(value)
    if isinstance(value, str):
        if value.strip() == "":
            value = None
        elif value.strip().lower() in _VALUE_WORDS:
            value = _VALUE_WORDS[value.strip().lower()]
        else:
            raise InputError(f"expected 1, 0 or empty, got {value!r}", file=path, line=line, field="value")
    if value not in (0, 1, None):
        raise InputError(f"expected 1, 0 or null, got {value!r}", file=path, line=line, field="value")
    if status is None:
        status = "ok" if value is not None else "unparsed"
    allowed = ("ok", "fractional", "missing", "empty", "unparsed", "retracted")
    if status not in allowed:
        raise InputError(
            f"expected one of {', '.join(allowed)}, got {status!r}", file=path, line=line, field="status"
        )
    if (value is None) != (status != "ok"):
        raise InputError(
            f"status {status!r} does not fit value {value!r}", file=path, line=line, field="status"
        )
    return value, status


_TRUE = (1, "1", True, "true", "True", "yes")
_FALSE = (0, "0", False, "false", "False", "no")
WIDE_FIXED = (
    "generation",
    "grader",
    "kind",
    "run",
    "seconds",
    "submitted",
    "note",
    "created",
    "guideline_version",
)
DRAFT_EXAMPLES = 5


class _VerdictImport:
    """The state of one verdict import: caches of ids, the pending rows and the people's items touched."""

    def __init__(self, store: Store, path: Path) -> None:
        self.store = store
        self.path = path
        self.gen_ids: dict[str, int] = {}
        self.uids: dict[int, str] = {}
        self.crits_of: dict[int, list[str]] = {}
        self.graders: dict[tuple, int] = {}
        self.grader_names: dict[int, str] = {}
        self.pending: list[dict] = []
        self.pending_keys: dict[tuple, tuple] = {}
        self.pending_evidence: list[dict] = []
        self.items: dict[tuple[int, int], bool | None] = {}  # (person, generation) -> the file's 'submitted'
        self.read = self.added = self.skipped = 0

    def generation(self, obj: dict, line: int) -> int:
        """Return the id of the record's generation (an error names the line if it is unknown)."""
        uid = obj.get("generation")
        if isinstance(uid, int) and not isinstance(uid, bool):
            uid = str(uid)
        if not isinstance(uid, str) or not uid:
            raise InputError("missing or not text", file=self.path, line=line, field="generation")
        gid = self.gen_ids.get(uid) or self.store.generation_id(uid)
        if gid is None:
            raise InputError(
                f"unknown generation {uid!r} (import it first)", file=self.path, line=line, field="generation"
            )
        self.gen_ids[uid] = gid
        self.uids[gid] = uid
        if gid not in self.crits_of:
            gen = self.store.generation(gid)
            self.crits_of[gid] = rubric_criteria([sk["name"] for sk in gen["skills"]])
        return gid

    def grader(self, obj: dict, line: int, kind: str) -> int:
        """Return the grader id of the record (a judge's configuration keeps two of one model apart)."""
        name = _text_field(obj, "grader", self.path, line)
        config = {
            f: _text_field(obj, f, self.path, line, required=False)
            for f in ("model", "endpoint_host", "prompt_version", "prompt_hash")
            if obj.get(f)
        }
        if obj.get("temperature") not in (None, ""):
            config["temperature"] = _number_field(obj, "temperature", self.path, line)
        if obj.get("max_tokens") not in (None, ""):
            config["max_tokens"] = _int_field(obj, "max_tokens", self.path, line, minimum=1)
        if kind == "judge":
            config.setdefault("model", name)
        key = (kind, name, tuple(sorted(config.items())))
        if key not in self.graders:
            self.graders[key] = self.store.grader_id(kind, name, **config)
            self.grader_names[self.graders[key]] = name
        return self.graders[key]

    def add(self, line: int, obj: dict) -> None:
        """Validate one long-format record and queue its verdict unless it equals the current one."""
        self.read += 1
        gid = self.generation(obj, line)
        kind = obj.get("kind")
        if kind not in KINDS:
            raise InputError(
                f"expected one of {', '.join(KINDS)}, got {kind!r}", file=self.path, line=line, field="kind"
            )
        criterion = _text_field(obj, "criterion", self.path, line)
        if criterion not in self.crits_of[gid]:
            raise InputError(
                f"{criterion!r} is not a criterion of generation {self.uids[gid]!r}",
                file=self.path,
                line=line,
                field="criterion",
            )
        value, status = _verdict_value(obj, self.path, line)
        run = _int_field(obj, "run", self.path, line, default=1, minimum=1)
        seconds = _seconds_field(obj, self.path, line)
        _check_optional_fields(obj, self.path, line)
        grader_id = self.grader(obj, line, kind)
        if kind == "human":
            flag = obj.get("submitted")
            known = self.items.get((grader_id, gid))
            self.items[(grader_id, gid)] = True if flag in _TRUE else False if flag in _FALSE else known
        self._queue(obj, kind, grader_id, gid, criterion, run, value, status, seconds)
        self._queue_evidence(obj, line, (grader_id, gid, criterion, run))

    def _queue_evidence(self, obj: dict, line: int, identity: tuple) -> None:
        """Queue the record's evidence marks (written after the verdicts; a known mark is not repeated)."""
        if obj.get(EVIDENCE_FIELD) in (None, "", []):
            return
        text = evidence_store.generation_texts(self.store, [identity[1]]).get(identity[1], "")
        keys = ("grader_id", "generation_id", "criterion", "run")
        for mark in parse_evidence(obj[EVIDENCE_FIELD], text, self.path, line):
            self.pending_evidence.append({**dict(zip(keys, identity, strict=True)), **mark})

    def _queue(self, obj, kind, grader_id, gid, criterion, run, value, status, seconds) -> None:
        identity = (grader_id, gid, criterion, run)
        current = self.pending_keys.get(identity)
        if current is None:
            cv = self.store.current_verdict(*identity)
            current = (cv["value"], cv["status"]) if cv else None
        if current == (value, status):
            self.skipped += 1
            return
        self.pending_keys[identity] = (value, status)
        reply_id = None
        raw = obj.get("raw")
        if isinstance(raw, str) and raw and kind == "judge":
            reply_id = self.store.reply_id(grader_id, gid, run) or self.store.add_reply(
                grader_id, gid, run, raw, "imported"
            )
        if "match_method" in obj:  # as exported: how the judge's row was matched, or empty
            method = obj["match_method"] if obj["match_method"] in MATCH_METHODS else None
        else:  # the file names the criterion of each verdict it has
            method = "exact" if status not in ("missing", "empty") else None
        self.pending.append(
            {
                "grader_id": grader_id,
                "generation_id": gid,
                "criterion": criterion,
                "run": run,
                "value": value,
                "status": status,
                "raw_value": obj["raw_value"]
                if isinstance(obj.get("raw_value"), str) and obj["raw_value"]
                else None,
                "reply_id": reply_id,
                "reason": obj.get("reason") or None,
                "note": obj.get("note") or None,
                "seconds": seconds,
                "post_reveal": obj.get("post_reveal") in _TRUE,
                "guideline_version": obj.get("guideline_version") or None,
                "created": obj.get("created") or None,
                "match_method": method if kind == "judge" else None,
            }
        )
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Write the queued verdicts."""
        self.added += self.store.add_verdicts(self.pending)
        self.pending = []
        evidence_store.insert_new_evidence(self.store.conn, self.pending_evidence)
        self.pending_evidence = []


def _check_optional_fields(obj: dict, path: Path, line: int) -> None:
    """Refuse optional fields of the wrong type (an object for a note, a time that is not one...)."""
    for name in ("raw", "reason", "note"):
        _text_field(obj, name, path, line, required=False)
    _time_field(obj, "created", path, line)
    _int_field(obj, "guideline_version", path, line, default=0)


def _seconds_field(obj: dict, path: Path, line: int) -> float | None:
    return _number_field(obj, "seconds", path, line)


def _is_wide(obj: dict) -> bool:
    """Tell a wide record (one column per criterion) from a long one (a 'criterion' field)."""
    return "criterion" not in obj and "generation" in obj and "grader" in obj


def _long_records(state: _VerdictImport, line: int, obj: dict) -> Iterator[dict]:
    """Split one wide row (generation, grader, one column per criterion) into long verdict records.

    A column is `skill:<name>`, the plain skill name, `topic`, `makes_sense` or `sentence_limit`; an empty
    cell is left undecided (a sheet covers generations with different skills). A filled cell that is not
    a criterion of the row's generation is an error naming the line and the column.
    """
    gid = state.generation(obj, line)
    crits = state.crits_of[gid]
    shared = {f: obj[f] for f in WIDE_FIXED if f in obj}
    shared.setdefault("kind", "human")
    for column, cell in obj.items():
        if column in WIDE_FIXED or cell in (None, ""):
            continue
        criterion = column if column in crits else SKILL_PREFIX + column
        if criterion not in crits:
            raise InputError(
                f"{column!r} is not a criterion of generation {obj['generation']!r}",
                file=state.path,
                line=line,
                field=column,
            )
        yield {**shared, "criterion": criterion, "value": cell}


def _settle_items(state: _VerdictImport, as_drafts: bool) -> dict[str, Any]:
    """Submit each person's imported item that decides every criterion; report the drafts left.

    The file's own 'submitted' (1/0) wins; without it an item is submitted when complete. --as-drafts
    keeps every item a draft.
    """
    submit: set[tuple[int, int]] = set()
    drafts: list[tuple[int, int]] = []
    for (grader_id, gid), flag in sorted(state.items.items()):
        complete = set(state.crits_of[gid]) <= decided_criteria(state.store, grader_id, gid)
        wanted = (complete if flag is None else flag) and not as_drafts
        if wanted:
            submit.add((grader_id, gid))
        elif not is_submitted(state.store, grader_id, gid):
            drafts.append((grader_id, gid))
    out: dict[str, Any] = {}
    if not state.items:
        return out
    out["items_submitted"] = _add_submits(state.store, submit)
    if drafts:
        out["items_left_as_drafts"] = len(drafts)
        out["drafts_for_example"] = ", ".join(
            f"{state.uids[g]} ({state.grader_names.get(p, p)})" for p, g in drafts[:DRAFT_EXAMPLES]
        ) + (" ..." if len(drafts) > DRAFT_EXAMPLES else "")
    name, drawn = active_draw_generations(state.store)
    inside = len({g for _p, g in state.items} & drawn)
    out["items_in_audit_draw"] = (
        f"{inside} of {len({g for _p, g in state.items})} generations (draw {name!r})"
        if name
        else "no audit draw yet (gradeapp audit draw)"
    )
    return out


def import_verdicts(store: Store, path: Path, *, as_drafts: bool = False) -> dict[str, Any]:
    """Import a verdicts file, long (one verdict a line) or wide (one column per criterion).

    A verdict equal to the current one is skipped. A person's item (person x generation) that decides
    every criterion of its generation is submitted, unless as_drafts; a partial one stays a draft.
    """
    state = _VerdictImport(store, path)
    with store.atomic():
        for line, obj in _records(path):
            if path.suffix == ".csv":
                obj = _restore_csv_cells(obj)
            if _is_wide(obj):
                for record in _long_records(state, line, obj):
                    state.add(line, record)
            else:
                state.add(line, obj)
        state.flush()
        counts: dict[str, Any] = {
            "verdicts_read": state.read,
            "verdicts_added": state.added,
            "verdicts_unchanged": state.skipped,
        }
        counts.update(_settle_items(state, as_drafts))
        store.log_import("verdicts", str(path), _sha256(path), counts)
    return counts


def _add_submits(store: Store, items: set[tuple[int, int]]) -> int:
    """Record a submit for each (person, generation) whose latest submit/unsubmit event is not a submit."""

    added = 0
    for grader_id, gid in sorted(items):
        if not is_submitted(store, grader_id, gid):
            store.add_review(grader_id, gid, "submit")
            added += 1
    return added


# -- reference run folders ------------------------------------------------------------------------
def find_reference_runs(root: Path) -> list[Path]:
    """Return the student folders (holding records.csv) below root, in the reference layout."""
    found = sorted(p.parent for p in root.rglob("records.csv") if "graded" not in p.parts[len(root.parts) :])
    return found


def _turns(row: dict) -> tuple[list[dict], list[str]]:
    """Return the conversation (system, user, assistant...) and the assistant replies of a records row."""
    pairs = [("user_{}", "assistant_{}"), ("[INST]_{}", "[/INST]_{}")]
    messages: list[dict] = []
    if row.get("system prompt"):
        messages.append({"role": "system", "content": row["system prompt"]})
    replies: list[str] = []
    for user_col, asst_col in pairs:
        i = 0
        while user_col.format(i) in row:
            messages.append({"role": "user", "content": row[user_col.format(i)]})
            messages.append({"role": "assistant", "content": row.get(asst_col.format(i), "")})
            replies.append(row.get(asst_col.format(i), ""))
            i += 1
        if replies:
            break
    return messages, replies


def _split_skills(value: str) -> list[str]:
    return [s.strip() for s in value.split(",") if s.strip()]


def import_reference_run(store: Store, folder: Path, resolver: _Resolver | None = None) -> dict[str, int]:
    """Import one reference student folder: its generations and every graded/ run beside them."""
    resolver = resolver or _Resolver(store)
    records = folder / "records.csv"
    run_dir = folder.parent.name
    m = RUN_DIR.match(run_dir)
    if not m:
        raise InputError(
            "the folder above the student folder must be named like k3_s10_vdefault_r1", file=folder.parent
        )
    k_dir, seed, version, rnd = int(m["k"]), int(m["seed"]), m["version"], int(m["round"])
    student = folder.name
    counts = {"generations_added": 0, "replies_added": 0, "verdicts_added": 0}
    rows = list(read_csv_rows(records))
    gens: list[tuple[int, list[str], str]] = []
    stamp = now_iso()
    for index, (line, row) in enumerate(rows):
        for field in ("k", "skills", "topic"):
            if field not in row:
                raise InputError("missing column", file=records, line=1, field=field)
        skills = _split_skills(row["skills"])
        k = _int_field(row, "k", records, line, minimum=1)
        if k != len(skills) or k != k_dir:
            raise InputError(
                f"k = {k} but {len(skills)} skills (folder says k = {k_dir})",
                file=records,
                line=line,
                field="k",
            )
        topic = row["topic"].strip()
        cid = resolver.combination(skills, topic, records, line, seed)
        messages, replies = _turns(row)
        if not replies:
            raise InputError(
                "no conversation columns (user_0/assistant_0 or [INST]_0/[/INST]_0)", file=records, line=line
            )
        uid = f"ref:{run_dir}/{student}/{index}"
        gid = store.generation_id(uid)
        if gid is None:
            meta = {"reference": {"run": run_dir, "row": index, "prompt_version": version, "seed": seed}}
            store.insert_generations(
                [
                    (
                        uid,
                        cid,
                        student,
                        rnd,
                        json.dumps(messages, ensure_ascii=False),
                        replies[-1],
                        extract_answer_reference(replies[-1]),
                        f"reference:{run_dir}",
                        json.dumps(meta),
                        stamp,
                    )
                ]
            )
            gid = store.generation_id(uid)
            counts["generations_added"] += 1
        gens.append((gid, skills, topic))
    graded_root = folder / "graded"
    if graded_root.is_dir():
        for gdir in sorted(p for p in graded_root.iterdir() if p.is_dir()):
            _import_graded(store, gdir, gens, counts)
    return counts


def _import_graded(store, gdir: Path, gens: list[tuple[int, list[str], str]], counts: dict[str, int]) -> None:
    m = GRADED_DIR.match(gdir.name)
    records = gdir / "records.csv"
    if not m or not records.exists():
        raise InputError("expected graded/by_<judge>_on_text_1_<run>_<prompt>/records.csv", file=gdir)
    judge, run, prompt = m["judge"], int(m["run"] or 1), m["prompt"] or "default"
    grader_id = store.grader_id("judge", judge, model=judge, prompt_version=f"reference:{prompt}")
    for index, (line, row) in enumerate(read_csv_rows(records)):
        if index >= len(gens):
            raise InputError(
                f"graded row {index + 1} has no generation row to match", file=records, line=line
            )
        gid, skills, topic = gens[index]
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
                "criterion": crit,
                "run": run,
                "value": p.value,
                "raw_value": p.raw_value,
                "status": p.status,
                "reply_id": reply_id,
                "reason": p.reason,
                "match_method": p.match,
            }
            for crit, p in parsed.points.items()
        )
        _store_reference_quotes(store, grader_id, gid, run, reply_id, raw, skills, topic)


def _store_reference_quotes(store, grader_id, gid, run, reply_id, raw, skills, topic) -> None:
    """Store the quoted passages of a reference reply's explanations, each checked against the text."""
    text = evidence_store.generation_texts(store, [gid]).get(gid, "")
    base = {"grader_id": grader_id, "generation_id": gid, "run": run}
    quotes = ({**base, **q} for q in quote_rows(raw, text, skills, topic))
    evidence_store.replace_reply_evidence(store.conn, reply_id, quotes)


def import_reference(store: Store, root: Path) -> dict[str, int]:
    """Import every reference run folder below root in one transaction."""
    folders = find_reference_runs(root)
    if not folders:
        raise InputError("no records.csv found in the reference layout", file=root)
    total = {"generations_added": 0, "replies_added": 0, "verdicts_added": 0}
    with store.atomic():
        resolver = _Resolver(store)
        for folder in folders:
            for key, n in import_reference_run(store, folder, resolver).items():
                total[key] += n
        store.log_import("reference", str(root), None, total)
    return total


# -- dispatch -------------------------------------------------------------------------------------
def detect_kind(path: Path) -> str:
    """Tell what a source is: 'reference' (folder), 'verdicts' or 'generations' (by its first record)."""
    if path.is_dir():
        return "reference"
    if not path.exists():
        raise InputError("no such file or folder", file=path)
    if path.suffix not in (".jsonl", ".csv", ".parquet"):
        raise InputError("expected a reference run folder, a .jsonl, .csv or .parquet file", file=path)
    for _line, obj in _records(path):
        return "verdicts" if "criterion" in obj or _is_wide(obj) else "generations"
    raise InputError("no records in the file", file=path)


def import_sources(
    store: Store, sources: list[Path], kind: str | None = None, *, as_drafts: bool = False
) -> dict[str, dict[str, Any]]:
    """Import several sources, all in one transaction: one bad source changes nothing at all.

    as_drafts keeps every imported person's item a draft (see import_verdicts).
    """
    report: dict[str, dict[str, int]] = {}
    with store.atomic():
        for n, src in enumerate(sources, 1):
            k = kind or detect_kind(src)
            # a source named twice reports twice (the second time adds nothing), not once with 0 added
            key = str(src) if str(src) not in report else f"{src} (again, source {n})"
            if k == "reference":
                report[key] = import_reference(store, src)
            elif k == "verdicts":
                report[key] = import_verdicts(store, src, as_drafts=as_drafts)
            else:
                report[key] = import_generations(store, src)
    return report
