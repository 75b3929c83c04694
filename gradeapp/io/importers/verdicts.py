"""Import our generic verdicts format: long (one verdict a record) or wide (one column per criterion).

Whether a person's imported item counts as submitted is not decided here: the caller passes the rule
(`settle`, see gradeapp.services.imports), which receives the items the file touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradeapp.core.parsing import MATCH_METHODS
from gradeapp.core.rubric import SKILL_PREFIX
from gradeapp.core.rubric import criteria as rubric_criteria
from gradeapp.db import Store, evidence_store
from gradeapp.errors import InputError
from gradeapp.io.evidence_fields import FIELD as EVIDENCE_FIELD
from gradeapp.io.evidence_fields import parse_evidence
from gradeapp.io.importers.fields import (
    FALSE_WORDS,
    TRUE_WORDS,
    check_optional_fields,
    int_field,
    number_field,
    restore_csv_cells,
    text_field,
)
from gradeapp.io.importers.sources import BATCH, file_digest, source_records

KINDS = ("judge", "human", "adjudicator")
STATUSES = ("ok", "fractional", "missing", "empty", "unparsed", "retracted")
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
_VALUE_WORDS = {"1": 1, "0": 0, "true": 1, "false": 0, "pass": 1, "fail": 0}


@dataclass
class ImportedItems:
    """The people's items (person x generation) a verdict file touched, for the caller's submit rule."""

    flags: dict[tuple[int, int], bool | None] = field(default_factory=dict)  # the file's 'submitted'
    criteria: dict[int, list[str]] = field(default_factory=dict)  # generation id -> its criteria
    uids: dict[int, str] = field(default_factory=dict)  # generation id -> its id in the file
    grader_names: dict[int, str] = field(default_factory=dict)


Settle = Callable[[Store, ImportedItems], dict[str, Any]]


def verdict_value(record: dict, path: Path, line: int, value_field: str = "value") -> tuple[int | None, str]:
    """Return (value, status) of a record; value_field names the column of a wide row in an error."""
    value = record.get("value")
    status = record.get("status") or None
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
            raise InputError(
                f"expected 1, 0 or empty, got {value!r}", file=path, line=line, field=value_field
            )
    if value not in (0, 1, None):
        raise InputError(f"expected 1, 0 or null, got {value!r}", file=path, line=line, field=value_field)
    if status is None:
        status = "ok" if value is not None else "unparsed"
    if status not in STATUSES:
        raise InputError(
            f"expected one of {', '.join(STATUSES)}, got {status!r}", file=path, line=line, field="status"
        )
    if (value is None) != (status != "ok"):
        raise InputError(
            f"status {status!r} does not fit value {value!r}", file=path, line=line, field="status"
        )
    return value, status


class _VerdictImport:
    """The state of one verdict import: caches of ids, the pending rows and the people's items touched."""

    def __init__(self, store: Store, path: Path) -> None:
        self.store = store
        self.path = path
        self.gen_ids: dict[str, int] = {}
        self.graders: dict[tuple, int] = {}
        self.items = ImportedItems()
        self.pending: list[dict] = []
        self.pending_keys: dict[tuple, tuple] = {}
        self.pending_evidence: list[dict] = []
        self.read = self.added = self.skipped = 0

    def generation(self, record: dict, line: int) -> int:
        """Return the id of the record's generation (an error names the line if it is unknown)."""
        uid = record.get("generation")
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
        self.items.uids[gid] = uid
        if gid not in self.items.criteria:
            gen = self.store.generation(gid)
            self.items.criteria[gid] = rubric_criteria([skill["name"] for skill in gen["skills"]])
        return gid

    def grader(self, record: dict, line: int, kind: str) -> int:
        """Return the grader id of the record (a judge's configuration keeps two of one model apart)."""
        name = text_field(record, "grader", self.path, line)
        config: dict[str, Any] = {
            key: text_field(record, key, self.path, line, required=False)
            for key in ("model", "endpoint_host", "prompt_version", "prompt_hash")
            if record.get(key)
        }
        if record.get("temperature") not in (None, ""):
            config["temperature"] = number_field(record, "temperature", self.path, line)
        if record.get("max_tokens") not in (None, ""):
            config["max_tokens"] = int_field(record, "max_tokens", self.path, line, minimum=1)
        if kind == "judge":
            config.setdefault("model", name)
        key = (kind, name, tuple(sorted(config.items())))
        if key not in self.graders:
            self.graders[key] = self.store.grader_id(kind, name, **config)
            self.items.grader_names[self.graders[key]] = name
        return self.graders[key]

    def add(self, line: int, record: dict, value_field: str = "value") -> None:
        """Validate one long-format record and queue its verdict unless it equals the current one."""
        self.read += 1
        gid = self.generation(record, line)
        kind = record.get("kind")
        if kind not in KINDS:
            raise InputError(
                f"expected one of {', '.join(KINDS)}, got {kind!r}", file=self.path, line=line, field="kind"
            )
        criterion = text_field(record, "criterion", self.path, line)
        if criterion not in self.items.criteria[gid]:
            raise InputError(
                f"{criterion!r} is not a criterion of generation {self.items.uids[gid]!r}",
                file=self.path,
                line=line,
                field="criterion",
            )
        value, status = verdict_value(record, self.path, line, value_field)
        run = int_field(record, "run", self.path, line, default=1, minimum=1)
        seconds = number_field(record, "seconds", self.path, line)
        check_optional_fields(record, self.path, line)
        grader_id = self.grader(record, line, kind)
        if kind == "human":
            flag = record.get("submitted")
            known = self.items.flags.get((grader_id, gid))
            self.items.flags[(grader_id, gid)] = (
                True if flag in TRUE_WORDS else False if flag in FALSE_WORDS else known
            )
        identity = (grader_id, gid, criterion, run)
        if self._unchanged(identity, value, status):
            self.skipped += 1
        else:
            self.pending.append(self._verdict_row(record, kind, identity, value, status, seconds))
        self._queue_evidence(record, line, identity)
        if len(self.pending) >= BATCH:
            self.flush()

    def _queue_evidence(self, record: dict, line: int, identity: tuple) -> None:
        """Queue the record's evidence marks (written after the verdicts; a known mark is not repeated)."""
        if record.get(EVIDENCE_FIELD) in (None, "", []):
            return
        text = evidence_store.generation_texts(self.store, [identity[1]]).get(identity[1], "")
        keys = ("grader_id", "generation_id", "criterion", "run")
        for mark in parse_evidence(record[EVIDENCE_FIELD], text, self.path, line):
            self.pending_evidence.append({**dict(zip(keys, identity, strict=True)), **mark})

    def _unchanged(self, identity: tuple, value: int | None, status: str) -> bool:
        """Tell whether a verdict equals the current one of its identity (and remember it as current)."""
        current = self.pending_keys.get(identity)
        if current is None:
            stored = self.store.current_verdict(*identity)
            current = (stored["value"], stored["status"]) if stored else None
        if current == (value, status):
            return True
        self.pending_keys[identity] = (value, status)
        return False

    def _verdict_row(self, record: dict, kind: str, identity: tuple, value, status: str, seconds) -> dict:
        """Return the verdict row of a record (a judge's raw reply is stored once per run)."""
        grader_id, gid, criterion, run = identity
        reply_id = None
        raw = record.get("raw")
        if isinstance(raw, str) and raw and kind == "judge":
            reply_id = self.store.reply_id(grader_id, gid, run) or self.store.add_reply(
                grader_id, gid, run, raw, "imported"
            )
        if "match_method" in record:  # as exported: how the judge's row was matched, or empty
            method = record["match_method"] if record["match_method"] in MATCH_METHODS else None
        else:  # the file names the criterion of each verdict it has
            method = "exact" if status not in ("missing", "empty") else None
        raw_value = record.get("raw_value")
        return {
            "grader_id": grader_id,
            "generation_id": gid,
            "criterion": criterion,
            "run": run,
            "value": value,
            "status": status,
            "raw_value": raw_value if isinstance(raw_value, str) and raw_value else None,
            "reply_id": reply_id,
            "reason": record.get("reason") or None,
            "note": record.get("note") or None,
            "seconds": seconds,
            "post_reveal": record.get("post_reveal") in TRUE_WORDS,
            "guideline_version": record.get("guideline_version") or None,
            "created": record.get("created") or None,
            "match_method": method if kind == "judge" else None,
        }

    def flush(self) -> None:
        """Write the queued verdicts."""
        self.added += self.store.add_verdicts(self.pending)
        self.pending = []
        evidence_store.insert_new_evidence(self.store.conn, self.pending_evidence)
        self.pending_evidence = []


def is_wide(record: dict) -> bool:
    """Tell a wide record (one column per criterion) from a long one (a 'criterion' field)."""
    return "criterion" not in record and "generation" in record and "grader" in record


def _long_records(state: _VerdictImport, line: int, record: dict) -> Iterator[tuple[str, dict]]:
    """Split one wide row (generation, grader, one column per criterion) into (column, long record).

    A column is `skill:<name>`, the plain skill name, `topic`, `makes_sense` or `sentence_limit`; an empty
    cell is left undecided (a sheet covers generations with different skills). A filled cell that is not
    a criterion of the row's generation is an error naming the line and the column.
    """
    gid = state.generation(record, line)
    criteria = state.items.criteria[gid]
    shared = {name: record[name] for name in WIDE_FIXED if name in record}
    shared.setdefault("kind", "human")
    for column, cell in record.items():
        if column in WIDE_FIXED or cell in (None, ""):
            continue
        criterion = column if column in criteria else SKILL_PREFIX + column
        if criterion not in criteria:
            raise InputError(
                f"{column!r} is not a criterion of generation {record['generation']!r}",
                file=state.path,
                line=line,
                field=column,
            )
        yield column, {**shared, "criterion": criterion, "value": cell}


def import_verdicts(store: Store, path: Path, settle: Settle) -> dict[str, Any]:
    """Import a verdicts file, long or wide, in one transaction; return counts.

    A verdict equal to the current one is skipped. `settle` decides, inside the transaction, which of the
    people's items the file touched are submitted, and returns counts to report.
    """
    state = _VerdictImport(store, path)
    with store.atomic():
        for line, record in source_records(path):
            if path.suffix == ".csv":
                record = restore_csv_cells(record)
            if is_wide(record):
                for column, long_record in _long_records(state, line, record):
                    state.add(line, long_record, value_field=column)
            else:
                state.add(line, record)
        state.flush()
        counts: dict[str, Any] = {
            "verdicts_read": state.read,
            "verdicts_added": state.added,
            "verdicts_unchanged": state.skipped,
        }
        if state.items.flags:
            counts.update(settle(store, state.items))
        store.log_import("verdicts", str(path), file_digest(path), counts)
    return counts
