"""Numbered schema migrations; an applied migration is never edited, a change is a new one.

They run through sqlite-utils' Migrations (each migration and the record that it ran in one
transaction). sqlite-utils imports pandas when it loads, about 0.8 s, so it is imported only when a
file has pending migrations: opening an up-to-date project (the desk's start) does not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlite_utils import Database, Migrations

MIGRATION_SET = "gradeapp"
# SQLite's application_id of every gradeapp project and package: "GrdA" in ASCII.
APPLICATION_ID = 0x47726441
_REGISTRY: list[tuple[str, Callable[[Database], None]]] = []


def migration(name: str) -> Callable:
    """Register a migration function under its numbered name (order of definition is order of use).

    Define migrations in the order of their numbers: tests/db/test_migrations.py checks it.
    """

    def inner(fn: Callable[[Database], None]) -> Callable[[Database], None]:
        if any(n == name for n, _ in _REGISTRY):
            raise ValueError(f"migration {name!r} is registered twice")
        _REGISTRY.append((name, fn))
        return fn

    return inner


def migration_set() -> Migrations:
    """Return gradeapp's migrations as a sqlite-utils Migrations set (imports sqlite-utils)."""
    from sqlite_utils import Migrations

    migrations = Migrations(MIGRATION_SET)
    for name, fn in _REGISTRY:
        migrations(name=name)(fn)
    return migrations


# Executed statement by statement: executescript() would COMMIT the surrounding
# migration transaction, breaking the "migration + its record" atomicity.
_SCHEMA_001 = [
    """CREATE TABLE project (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE skills (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        category TEXT NOT NULL DEFAULT '',
        definition TEXT NOT NULL DEFAULT '',
        example TEXT NOT NULL DEFAULT '',
        common INTEGER NOT NULL DEFAULT 0 CHECK (common IN (0, 1)),
        frequency REAL,
        status TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE topics (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    )""",
    """CREATE TABLE students (
        name TEXT PRIMARY KEY,
        params_b REAL,
        notes TEXT
    )""",
    # skill_key: the sorted skill ids, so that one set of skills + topic is one combination
    """CREATE TABLE combinations (
        id INTEGER PRIMARY KEY,
        k INTEGER NOT NULL CHECK (k >= 1),
        topic_id INTEGER NOT NULL REFERENCES topics(id),
        skill_key TEXT NOT NULL,
        seed INTEGER,
        UNIQUE (topic_id, skill_key)
    )""",
    """CREATE TABLE combination_skills (
        combination_id INTEGER NOT NULL REFERENCES combinations(id),
        position INTEGER NOT NULL,
        skill_id INTEGER NOT NULL REFERENCES skills(id),
        PRIMARY KEY (combination_id, position)
    ) WITHOUT ROWID""",
    "CREATE INDEX combination_skills_skill ON combination_skills(skill_id)",
    "CREATE INDEX combinations_k ON combinations(k, topic_id)",
    """CREATE TABLE generations (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        combination_id INTEGER NOT NULL REFERENCES combinations(id),
        student TEXT NOT NULL,
        round INTEGER NOT NULL DEFAULT 1,
        prompt TEXT,
        raw_reply TEXT,
        text TEXT NOT NULL,
        source TEXT,
        meta TEXT,
        created TEXT NOT NULL
    )""",
    "CREATE INDEX generations_student ON generations(student, combination_id, round)",
    "CREATE INDEX generations_combination ON generations(combination_id)",
    # Deterministic checks, computed lazily and cached (see gradeapp.core.rubric)
    """CREATE TABLE checks (
        generation_id INTEGER PRIMARY KEY REFERENCES generations(id),
        n_sentences INTEGER NOT NULL,
        n_sentences_ref INTEGER NOT NULL,
        named_skills TEXT NOT NULL
    )""",
    # A grader is a person, an adjudicator, or a judge configuration (never an API key)
    """CREATE TABLE graders (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('human', 'judge', 'adjudicator')),
        name TEXT NOT NULL,
        model TEXT,
        endpoint_host TEXT,
        prompt_version TEXT,
        prompt_hash TEXT,
        temperature REAL,
        max_tokens INTEGER,
        config TEXT,
        created TEXT NOT NULL
    )""",
    """CREATE TABLE replies (
        id INTEGER PRIMARY KEY,
        grader_id INTEGER NOT NULL REFERENCES graders(id),
        generation_id INTEGER NOT NULL REFERENCES generations(id),
        run INTEGER NOT NULL DEFAULT 1,
        request TEXT,
        raw TEXT NOT NULL,
        parse_status TEXT NOT NULL,
        usage TEXT,
        created TEXT NOT NULL,
        UNIQUE (grader_id, generation_id, run)
    )""",
    # Append-only: a correction is a new row; the row with the highest id counts.
    """CREATE TABLE verdicts (
        id INTEGER PRIMARY KEY,
        grader_id INTEGER NOT NULL REFERENCES graders(id),
        generation_id INTEGER NOT NULL REFERENCES generations(id),
        criterion TEXT NOT NULL,
        run INTEGER NOT NULL DEFAULT 1,
        value INTEGER CHECK (value IN (0, 1)),
        raw_value TEXT,
        status TEXT NOT NULL DEFAULT 'ok'
            CHECK (status IN ('ok', 'fractional', 'missing', 'empty', 'unparsed', 'retracted')),
        reply_id INTEGER REFERENCES replies(id),
        reason TEXT,
        note TEXT,
        seconds REAL,
        post_reveal INTEGER NOT NULL DEFAULT 0 CHECK (post_reveal IN (0, 1)),
        guideline_version INTEGER,
        created TEXT NOT NULL
    )""",
    "CREATE INDEX verdicts_identity ON verdicts(grader_id, generation_id, criterion, run, id)",
    "CREATE INDEX verdicts_generation ON verdicts(generation_id)",
    # Item-level events of a person: submit, flag, skip, note (append-only too)
    """CREATE TABLE reviews (
        id INTEGER PRIMARY KEY,
        grader_id INTEGER NOT NULL REFERENCES graders(id),
        generation_id INTEGER NOT NULL REFERENCES generations(id),
        action TEXT NOT NULL
            CHECK (action IN ('submit', 'unsubmit', 'flag', 'unflag', 'skip', 'note')),
        seconds REAL,
        note TEXT,
        created TEXT NOT NULL
    )""",
    "CREATE INDEX reviews_identity ON reviews(grader_id, generation_id, id)",
    "CREATE INDEX reviews_generation ON reviews(generation_id)",
    """CREATE TABLE audit_draws (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        design TEXT NOT NULL,
        seed INTEGER,
        params TEXT,
        created TEXT NOT NULL
    )""",
    """CREATE TABLE audit_items (
        draw_id INTEGER NOT NULL REFERENCES audit_draws(id),
        generation_id INTEGER NOT NULL REFERENCES generations(id),
        stratum TEXT NOT NULL DEFAULT '',
        inclusion_prob REAL NOT NULL CHECK (inclusion_prob > 0 AND inclusion_prob <= 1),
        PRIMARY KEY (draw_id, generation_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX audit_items_generation ON audit_items(generation_id)",
    """CREATE TABLE guidelines (
        version INTEGER PRIMARY KEY,
        text TEXT NOT NULL,
        created TEXT NOT NULL
    )""",
    """CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        grader_id INTEGER REFERENCES graders(id),
        config TEXT,
        started TEXT NOT NULL,
        finished TEXT,
        status TEXT,
        calls INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL
    )""",
    """CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        sha256 TEXT,
        counts TEXT,
        created TEXT NOT NULL
    )""",
    # One current verdict per grader x generation x criterion x run; retractions hide it.
    """CREATE VIEW current_verdicts AS
        SELECT v.* FROM verdicts v
        WHERE v.id IN (
            SELECT MAX(id) FROM verdicts GROUP BY grader_id, generation_id, criterion, run
        ) AND v.status != 'retracted'""",
]


@migration("001_initial_schema")
def initial_schema(db: Database) -> None:
    for statement in _SCHEMA_001:
        db.execute(statement)


@migration("003_judge_reply_history")
def judge_reply_history(db: Database) -> None:
    # A judge reply re-asked with --retry-unparsed replaces the one reply of its grader x generation x
    # run; the replaced raw text is kept here so that no reply is ever lost.
    db.execute(
        """CREATE TABLE reply_history (
            id INTEGER PRIMARY KEY,
            reply_id INTEGER NOT NULL REFERENCES replies(id),
            request TEXT,
            raw TEXT NOT NULL,
            parse_status TEXT NOT NULL,
            usage TEXT,
            created TEXT NOT NULL,
            replaced TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX reply_history_reply ON reply_history(reply_id)")


# Merged packages make the insertion order of a person's rows depend on the order of merging, so the
# row that counts is the latest by `created` (ties: highest id), not simply the highest id.
_TEAM_005 = [
    "CREATE INDEX verdicts_identity_created ON verdicts(grader_id, generation_id, criterion, run, created, id)",
    "DROP VIEW current_verdicts",
    """CREATE VIEW current_verdicts AS
        SELECT v.* FROM verdicts v
        WHERE NOT EXISTS (
            SELECT 1 FROM verdicts w
            WHERE w.grader_id = v.grader_id AND w.generation_id = v.generation_id
              AND w.criterion = v.criterion AND w.run = v.run
              AND (w.created > v.created OR (w.created = v.created AND w.id > v.id))
        ) AND v.status != 'retracted'""",
]


@migration("005_team_current_by_created")
def team_current_by_created(db: Database) -> None:
    for statement in _TEAM_005:
        db.execute(statement)


@migration("010_verdict_match_method")
def verdict_match_method(db: Database) -> None:
    # How a judge's reply row was matched to its criterion: exact, normalised, fuzzy or elimination
    # (gradeapp.core.parsing); NULL for a person's verdict and for verdicts stored before this column.
    db.execute("ALTER TABLE verdicts ADD COLUMN match_method TEXT")


# The verdict (and review event) that counts is the last one inserted, by id: a `created` time comes
# from a client (an imported file, a package made on another machine with its own clock) and one far
# in the future would stay current forever. Importers and merge insert in the order that keeps history
# meaningful (the file's order, the package's own insertion order). `merged_from` records when the
# parent project issued the package a row was merged from (the parent's own clock, so trusted): merge
# keeps rows of a later-issued package after those of an earlier one, whatever the order of merging.
_CURRENT_020 = [
    "DROP INDEX IF EXISTS verdicts_identity_created",
    "ALTER TABLE verdicts ADD COLUMN merged_from TEXT",
    "ALTER TABLE reviews ADD COLUMN merged_from TEXT",
    "DROP VIEW current_verdicts",
    """CREATE VIEW current_verdicts AS
        SELECT v.* FROM verdicts v
        WHERE v.id IN (
            SELECT MAX(id) FROM verdicts GROUP BY grader_id, generation_id, criterion, run
        ) AND v.status != 'retracted'""",
]


@migration("020_current_by_insertion_order")
def current_by_insertion_order(db: Database) -> None:
    for statement in _CURRENT_020:
        db.execute(statement)


@migration("021_application_id")
def application_id(db: Database) -> None:
    # PRAGMA application_id writes the file header (it rolls back with the migration's transaction);
    # gradeapp.db.connection checks it, read-only, before it changes any file.
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")


# The audit reads a judge's current verdicts in identity order: the covering index (the identity, the
# order that decides the current row, then value and status) serves that read without touching the table.
# judge_cells caches each judge x generation's current points packed per criterion (see
# db/audit_store.py); judge_cells_state records up to which verdict id and under which rule it is valid.
_AUDIT_030 = [
    "DROP INDEX IF EXISTS verdicts_identity_created",
    "CREATE INDEX verdicts_identity_current ON verdicts"
    "(grader_id, generation_id, criterion, run, created, id, value, status)",
    """CREATE TABLE judge_cells (
        grader_id INTEGER NOT NULL,
        generation_id INTEGER NOT NULL,
        cells BLOB NOT NULL,
        PRIMARY KEY (grader_id, generation_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE judge_cells_state (
        grader_id INTEGER PRIMARY KEY,
        max_verdict_id INTEGER NOT NULL,
        rule TEXT NOT NULL
    )""",
]


@migration("030_audit_covering_index_and_cell_cache")
def audit_covering_index_and_cell_cache(db: Database) -> None:
    for statement in _AUDIT_030:
        db.execute(statement)


# The current verdict is the last inserted (020), so the covering index orders each identity's rows by id
# (030's put `created` before `id`). Released as "022_covering_index_by_insertion_order", defined after
# 030 and so applied after it: its name now says its place. A file that recorded the old name has run
# it; RENAMED maps that record to the new name, so it never runs twice.
@migration("031_covering_index_by_insertion_order")
def covering_index_by_insertion_order(db: Database) -> None:
    db.execute("DROP INDEX IF EXISTS verdicts_identity_current")
    db.execute(
        "CREATE INDEX verdicts_identity_current ON verdicts(grader_id, generation_id, criterion, run, id, value, status)"
    )


# The process that runs a judge or generation job ("host|pid|start time"), so that a job whose process
# died (a kill, a crash, a power cut) is marked interrupted when the project is next opened for writing.
@migration("045_job_owner")
def job_owner(db: Database) -> None:
    db.execute("ALTER TABLE jobs ADD COLUMN owner TEXT")


# Evidence: the words of a text that show a criterion, marked by a person or quoted by a judge
# (gradeapp.core.evidence). Append-only like verdicts: removing a mark is a new row with action
# 'remove' naming the row it removes (removes_id); undoing a removal adds the mark again as a new row.
# Offsets are characters [start_char, end_char) into the generation's text; a judge quote that was not
# found has none. grounding and score are the check of a judge's quote (NULL for a person's marks, which
# are taken from the text itself); reply_id ties a judge's quote to the reply it came from.
_EVIDENCE_050 = [
    """CREATE TABLE evidence (
        id INTEGER PRIMARY KEY,
        grader_id INTEGER NOT NULL REFERENCES graders(id),
        generation_id INTEGER NOT NULL REFERENCES generations(id),
        criterion TEXT NOT NULL,
        run INTEGER NOT NULL DEFAULT 1,
        action TEXT NOT NULL DEFAULT 'add' CHECK (action IN ('add', 'remove')),
        removes_id INTEGER REFERENCES evidence(id),
        start_char INTEGER CHECK (start_char IS NULL OR start_char >= 0),
        end_char INTEGER CHECK (end_char IS NULL OR end_char >= start_char),
        quote TEXT NOT NULL,
        grounding TEXT CHECK (grounding IS NULL OR grounding IN ('grounded', 'near', 'not_found')),
        score REAL,
        reply_id INTEGER REFERENCES replies(id),
        merged_from TEXT,
        created TEXT NOT NULL,
        CHECK ((action = 'remove') = (removes_id IS NOT NULL))
    )""",
    "CREATE INDEX evidence_identity ON evidence(grader_id, generation_id, criterion, run, id)",
    "CREATE INDEX evidence_generation ON evidence(generation_id)",
    "CREATE INDEX evidence_removes ON evidence(removes_id) WHERE removes_id IS NOT NULL",
]


@migration("050_evidence")
def evidence(db: Database) -> None:
    for statement in _EVIDENCE_050:
        db.execute(statement)


# Old recorded name -> the name the migration has now (same function, same statements).
RENAMED = {"022_covering_index_by_insertion_order": "031_covering_index_by_insertion_order"}


def canonical_names(names: list[str]) -> list[str]:
    """Return recorded migration names with renamed ones under their current name."""
    return [RENAMED.get(name, name) for name in names]


def apply_migrations(db: Database) -> None:
    """Apply the pending migrations, first recording renamed ones under their new name (writes)."""
    if "_sqlite_migrations" in db.table_names():
        with db.atomic():  # a savepoint inside the caller's transaction (`with db.conn` would commit it)
            for old, new in RENAMED.items():
                db.execute(
                    "UPDATE _sqlite_migrations SET name = ? WHERE migration_set = ? AND name = ?",
                    [new, MIGRATION_SET, old],
                )
    migration_set().apply(db)


def known_migrations() -> list[str]:
    """Return the names of all migrations this code knows, in order."""
    return [name for name, _ in _REGISTRY]


# The sentence count changed (a closing quote split off after the period no longer counts as a
# sentence, quoted sentences are counted; docs/text-handling.md): the checks and the judge cells built
# on them are caches, filled again on the next read.
@migration("060_recount_sentences")
def recount_sentences(db: Database) -> None:
    for table in ("checks", "judge_cells", "judge_cells_state"):
        db.execute(f"DELETE FROM {table}")
