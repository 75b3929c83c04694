"""Export the audit: pass_rates.csv, agreement.csv, verdicts.csv + verdicts.parquet, report.html,
annotators.csv, judges.csv, and the paper outputs (headline.tex/.md, k_curve and agreement as .svg/.pdf).

CSV cells are neutralised by gradeapp.io.tables (see there).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from gradeapp.core.results import AuditStats, StatsOptions
from gradeapp.db import Store, evidence_store, export_store, open_project
from gradeapp.db.backup import process_alive
from gradeapp.errors import GradeappError
from gradeapp.io.evidence_fields import evidence_cell
from gradeapp.io.paper import write_paper_outputs
from gradeapp.io.report import write_report
from gradeapp.io.tables import CsvTableWriter, write_csv
from gradeapp.paths import file_slug
from gradeapp.services.evidence import export_evidence
from gradeapp.services.judges import export_comparison, write_judges_csv
from gradeapp.services.quality import write_annotators_csv
from gradeapp.services.stats import compute_from_data, load_data

PASS_RATES_COLUMNS = [
    "student", "k", "metric", "estimator", "estimate", "ci_low", "ci_high",
    "n_audited", "n_judged", "judge_rate", "human_rate", "note",
]  # fmt: skip
VERDICT_EXPORT_COLUMNS = [
    "generation", "kind", "grader", "model", "endpoint_host", "prompt_version", "prompt_hash", "temperature",
    "max_tokens", "criterion", "run", "value", "status", "raw_value", "reason", "note", "seconds",
    "post_reveal", "guideline_version", "created", "submitted", "raw", "match_method", "evidence",
]  # fmt: skip


def default_export_dir(store: Store) -> Path:
    """Return exports/<project>-<timestamp>/ below the current folder."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path("exports") / f"{file_slug(Path(store.path).stem, 'project', 60)}-{stamp}"


def pass_rates_frame(stats: AuditStats) -> pd.DataFrame:
    """Return the pass-rate table with exactly the columns of pass_rates.csv."""
    return stats.pass_rates.reindex(columns=PASS_RATES_COLUMNS)


def agreement_frame(stats: AuditStats) -> pd.DataFrame:
    """Return the agreement table for agreement.csv (empty student/k mean 'all')."""
    df = stats.agreement.copy()
    df["k"] = df["k"].astype("Int64")
    return df


INT_COLUMNS = ("value", "run", "post_reveal", "max_tokens", "guideline_version", "submitted")
FLOAT_COLUMNS = ("temperature", "seconds")
EXPORT_CHUNK = 5_000  # generations of one grader per batch (a Parquet row group, a CSV block)


def verdict_schema():
    """Return the Arrow schema of verdicts.parquet (with pandas' metadata: nullable ints read back as Int64)."""
    import pyarrow as pa  # deferred: only the export needs Arrow

    template = pd.DataFrame(
        {
            c: pd.Series(dtype="Int64" if c in INT_COLUMNS else "float64" if c in FLOAT_COLUMNS else "str")
            for c in VERDICT_EXPORT_COLUMNS
        }
    )
    return pa.Schema.from_pandas(template, preserve_index=False)


LARGE_PROJECT = 300_000  # generations: above, the verdict readers start once the statistics are freed
READERS = 2  # verdict reader children: the reading is CPU-bound in SQLite, two use both cores


def verdict_batches(
    store, generation_chunk: int = EXPORT_CHUNK, before_large_read: Callable[[], None] | None = None
):
    """Yield every current verdict as Arrow tables of verdict_schema(), a grader's range of generations at a time.

    In the order of the old single query (grader kind, grader id, generation, run, verdict id); memory
    depends on the chunk, not on the project. The rows are read by READERS child processes
    (export_store.dump_verdict_rows), for a project of more than LARGE_PROJECT generations started after
    before_large_read returns (the export waits there until its statistics are freed: at a million
    generations they and the readers would take more than 1.5 GB together).
    """
    schema = verdict_schema()
    gen_ids, uids = export_store.generation_uids(store)  # uids an Arrow array: each batch takes its own in C
    graders = list(export_store.export_graders(store).itertuples(index=False))
    jobs = []
    for grader in graders:
        lo, hi = export_store.grader_generation_range(store, grader.id)
        jobs += [(int(grader.id), s, s + generation_chunk - 1) for s in range(lo, hi + 1, generation_chunk)]
    large = len(gen_ids) > LARGE_PROJECT
    if large and before_large_read is not None:
        before_large_read()
    by_id = {int(g.id): g for g in graders}
    with_evidence = evidence_store.has_evidence(store)
    submitted: dict[int, set[int] | None] = {}
    batches = export_store.dump_verdict_rows(store, jobs, readers=READERS)
    for (grader_id, _lo, _hi), rows in zip(jobs, batches, strict=True):
        if not rows.num_rows:
            continue
        grader = by_id[grader_id]
        if grader_id not in submitted:
            submitted[grader_id] = (
                export_store.submitted_generations(store, grader_id) if grader.kind == "human" else None
            )
        table = _current_table(
            store, rows, grader, submitted[grader_id], gen_ids, uids, schema, with_evidence
        )
        if table.num_rows:
            yield table


def _current_positions(rows) -> np.ndarray:
    """Return the positions of the current rows (identity + rule order in, export order out).

    The last row of each identity counts; a retracted current row hides it.
    """
    import pyarrow.compute as pc

    count = rows.num_rows
    verdict_ids = rows.column("id").to_numpy()
    gen = rows.column("generation_id").to_numpy()
    run = rows.column("run").to_numpy()
    crit = rows.column("criterion")
    same_next = np.zeros(count, bool)
    if count > 1:
        same_crit = pc.equal(crit.slice(1), crit.slice(0, count - 1)).to_numpy(zero_copy_only=False)
        same_next[:-1] = (gen[1:] == gen[:-1]) & (run[1:] == run[:-1]) & same_crit
    keep = ~same_next & ~pc.equal(rows.column("status"), "retracted").to_numpy(zero_copy_only=False)
    positions = np.flatnonzero(keep)
    return positions[np.lexsort((verdict_ids[positions], run[positions], gen[positions]))]


def _reply_texts_once(store, reply_ids: np.ndarray):
    """Return the raw reply text on the first row of each reply and null elsewhere (an Arrow array)."""
    import pyarrow as pa

    count = len(reply_ids)
    has = ~np.isnan(reply_ids.astype(np.float64))
    first = np.zeros(count, bool)
    if has.any():
        _, pos = np.unique(reply_ids[has], return_index=True)
        first[np.flatnonzero(has)[pos]] = True
    if not first.any():
        return pa.nulls(count, pa.large_string())
    firsts = np.flatnonzero(first)
    texts = export_store.reply_texts(store, np.unique(reply_ids[first]).astype(np.int64).tolist())
    found = pa.array([texts.get(int(r)) for r in reply_ids[firsts]], pa.large_string())
    # each first row takes its reply's text, every other row a null (a masked index): no loop over rows
    at = np.zeros(count, np.int64)
    at[firsts] = np.arange(len(firsts))
    return found.take(pa.array(at, mask=~first))


def _evidence_column(store, grader, gens, crits, runs, with_evidence: bool):
    """Return each verdict's evidence field (JSON text, null without marks); all null in a project without."""
    import pyarrow as pa

    if not with_evidence or not len(gens):
        return pa.nulls(len(gens), pa.large_string())
    marks = evidence_store.grader_marks(store, int(grader.id), int(gens.min()), int(gens.max()))
    if not marks:
        return pa.nulls(len(gens), pa.large_string())
    keys = zip(gens.tolist(), crits.to_pylist(), runs.tolist(), strict=True)
    return pa.array([evidence_cell(marks.get(key, [])) for key in keys], pa.large_string())


def _current_table(store, rows, grader, submitted, gen_ids, uids, schema, with_evidence=False):
    """Return the current rows among one grader's rows (identity + rule order) as a table in export order."""
    import pyarrow as pa

    gen = rows.column("generation_id").to_numpy()
    run = rows.column("run").to_numpy()
    crit = rows.column("criterion")
    status = rows.column("status")
    idx = _current_positions(rows)
    take = pa.array(idx)
    m = len(idx)
    raw = _reply_texts_once(store, rows.column("reply_id").take(take).to_numpy(zero_copy_only=False))
    g = gen[idx]
    if submitted is None:
        sub = pa.nulls(m, pa.int64())
    else:
        sub = pa.array(np.isin(g, np.fromiter(submitted, np.int64, len(submitted))).astype(np.int64))

    def const(value, typ):
        if pd.isna(value):
            return pa.nulls(m, typ)
        return pa.repeat(pa.scalar(value, typ), m)

    def col(name, typ):
        return rows.column(name).take(take).cast(typ)

    arrays = {
        "generation": uids.take(pa.array(np.searchsorted(gen_ids, g))),
        "kind": const(grader.kind, pa.large_string()),
        "grader": const(grader.grader, pa.large_string()),
        "model": const(grader.model, pa.large_string()),
        "endpoint_host": const(grader.endpoint_host, pa.large_string()),
        "prompt_version": const(grader.prompt_version, pa.large_string()),
        "prompt_hash": const(grader.prompt_hash, pa.large_string()),
        "temperature": const(
            None if pd.isna(grader.temperature) else float(grader.temperature), pa.float64()
        ),
        "max_tokens": const(None if pd.isna(grader.max_tokens) else int(grader.max_tokens), pa.int64()),
        "criterion": crit.take(take).cast(pa.large_string()),
        "run": pa.array(run[idx]),
        "value": col("value", pa.int64()),
        "status": status.take(take).cast(pa.large_string()),
        "raw_value": col("raw_value", pa.large_string()),
        "reason": col("reason", pa.large_string()),
        "note": col("note", pa.large_string()),
        "seconds": col("seconds", pa.float64()),
        "post_reveal": col("post_reveal", pa.int64()),
        "guideline_version": col("guideline_version", pa.int64()),
        "created": col("created", pa.large_string()),
        "submitted": sub,
        "raw": raw,
        "match_method": col("match_method", pa.large_string()),
        "evidence": _evidence_column(store, grader, g, crit.take(take), run[idx], with_evidence),
    }
    return pa.Table.from_arrays(
        [arrays[c].cast(schema.field(c).type) for c in VERDICT_EXPORT_COLUMNS], schema=schema
    )


def verdicts_frame(store) -> pd.DataFrame:
    """Return every current verdict in long format in one frame (the columns of verdicts.csv / .parquet)."""
    import pyarrow as pa

    tables = list(verdict_batches(store))
    if not tables:
        return pd.DataFrame(columns=VERDICT_EXPORT_COLUMNS)
    return pa.concat_tables(tables).to_pandas()


def write_verdicts(
    store,
    csv_path: Path,
    parquet_path: Path,
    stop: threading.Event | None = None,
    go: threading.Event | None = None,
) -> int:
    """Stream every current verdict to verdicts.csv and verdicts.parquet (a row group per batch); return the rows.

    go: when given, a large project's verdicts are read once it is set (see verdict_batches). stop: set by
    another thread to end the stream early (the files are then incomplete).
    """
    import pyarrow.parquet as pq  # deferred: only the export needs Arrow

    schema = verdict_schema()
    rows = 0
    with (
        CsvTableWriter(csv_path, schema) as csv_out,
        pq.ParquetWriter(parquet_path, schema) as parquet_out,
        ThreadPoolExecutor(1) as parquet_thread,
        contextlib.closing(
            verdict_batches(store, before_large_read=go.wait if go is not None else None)
        ) as batches,  # closed at once when stopped early: the readers are ended
    ):
        # Arrow encodes without the GIL: each batch's Parquet row group is written on a thread of its own
        # while its CSV block is written here (the batch before is finished first, so memory stays flat).
        pending = None
        for table in batches:
            if stop is not None and stop.is_set():
                break
            if pending is not None:
                pending.result()
            pending = parquet_thread.submit(parquet_out.write_table, table)
            csv_out.write(table)
            rows += table.num_rows
        if pending is not None:
            pending.result()
    return rows


def _write_verdicts_apart(
    path: Path, out: Path, stop: threading.Event, go: threading.Event
) -> dict[str, Path]:
    """Write verdicts.csv and verdicts.parquet into out through a read-only connection of this thread's own."""
    with open_project(path, readonly=True) as store:
        write_verdicts(store, out / "verdicts.csv", out / "verdicts.parquet", stop, go)
    return {"verdicts_csv": out / "verdicts.csv", "verdicts_parquet": out / "verdicts.parquet"}


def export_project(
    store: Store,
    out: Path | None = None,
    options: StatsOptions | None = None,
    stats: AuditStats | None = None,
) -> dict[str, Path]:
    """Write the exports (twelve files) into out (default exports/<project>-<timestamp>/); return their paths.

    All or nothing: the files are written into a temporary folder beside out and renamed into place at
    the end, so a full disk or an error leaves no half-written export (and an existing out untouched).
    """
    out = Path(out) if out else default_export_dir(store)
    if out.exists() and not out.is_dir():
        raise GradeappError(f"{out}: is a file; give a folder for the export")
    # an existing folder keeps its files and its mode: the temporary folder goes inside it
    staging_parent = out if out.is_dir() else out.parent
    try:
        staging_parent.mkdir(parents=True, exist_ok=True)
        remove_leftover_staging(staging_parent)
        staging = _new_staging(staging_parent)
    except OSError as exc:
        raise GradeappError(f"{out}: cannot create the export folder ({exc.strerror})") from None
    try:
        written = _write_exports(store, staging, options, stats)
        if staging_parent == out:
            # out already exists: move ours in one by one, each rename atomic
            for path in written.values():
                os.replace(path, out / path.relative_to(staging))
            staging.rmdir()
        else:
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {name: out / path.relative_to(staging) for name, path in written.items()}


STAGING_PREFIX = ".export-"


def _new_staging(parent: Path) -> Path:
    """Create the temporary folder of an export, named after this process, with the user's umask.

    os.mkdir(0o777) leaves the umask to decide (tempfile.mkdtemp would make it 0700, and the export
    folder renamed from it too).
    """
    while True:
        staging = parent / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            staging.mkdir(0o777)
            return staging
        except FileExistsError:
            continue


def remove_leftover_staging(parent: Path) -> list[Path]:
    """Remove the temporary folders that killed exports left in parent (their process is gone); return them.

    A folder of a running export (its process id is alive) stays; so does anything not named like ours.
    """
    removed = []
    for folder in parent.glob(f"{STAGING_PREFIX}*"):
        pid_text = folder.name[len(STAGING_PREFIX) :].partition("-")[0]
        if folder.is_dir() and pid_text.isdigit() and not process_alive(int(pid_text)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _write_exports(
    store, out: Path, options: StatsOptions | None, stats: AuditStats | None
) -> dict[str, Path]:
    o = options or StatsOptions()
    stop, freed = threading.Event(), threading.Event()
    # The verdict files (the longest part, CPU-bound in SQLite and Arrow) are streamed on a thread with its
    # own connection, while this thread loads the snapshot, computes the statistics and writes the other
    # files. A large project's stream waits until the statistics are freed (see verdict_batches).
    with ThreadPoolExecutor(1) as verdict_thread:
        verdicts = verdict_thread.submit(_write_verdicts_apart, Path(store.path), out, stop, freed)
        try:
            if stats is None:
                t = time.perf_counter()
                # a list, so that the snapshot is handed on without a name here keeping it alive
                snapshot = [load_data(store, o)]
                timings = {"load": time.perf_counter() - t}
            paths = _write_results(store, out, stats or compute_from_data(snapshot.pop(), o, timings), freed)
            verdict_paths = verdicts.result()
        except BaseException:
            stop.set()  # the stream ends at its next batch; the staging folder is removed by the caller
            freed.set()
            raise
    # listed as before: the tables, the verdicts, then the rest
    tables = {k: paths.pop(k) for k in ("pass_rates", "agreement")}
    return {**tables, **verdict_paths, **paths}


def _write_results(store, out: Path, stats: AuditStats, freed: threading.Event) -> dict[str, Path]:
    """Write every file but the verdicts: the tables, judges, annotators and the figures; set freed once
    the statistics' per-generation tables are let go."""
    import pyarrow as pa  # deferred: only the export needs Arrow

    paths = {
        "pass_rates": write_csv(pass_rates_frame(stats), out / "pass_rates.csv"),
        "agreement": write_csv(agreement_frame(stats), out / "agreement.csv"),
    }
    judges = export_comparison(store, stats)
    figures = figure_stats(stats)
    # The per-generation tables (a GB at a million generations) are not needed from here on: freed before
    # a large project's verdicts are read (unless the caller keeps them: the desk passes its own). Arrow's
    # allocator keeps freed pages for reuse; handing them back now is 150 MB less beside the readers.
    del stats
    pa.default_memory_pool().release_unused()
    freed.set()
    annotators = write_annotators_csv(store, out / "annotators.csv")
    evidence_paths, evidence_html = export_evidence(store, out)  # nothing when the project has no evidence
    paths.update(evidence_paths)
    # Drawn here, while the verdict thread streams (SQLite and Arrow work in the readers and without the
    # GIL): a child process of their own cost a second start of pandas and matplotlib.
    paths.update(write_figures(figures, out, judges, [evidence_html] if evidence_html else ()))
    paths["annotators"] = annotators
    if judges is not None:
        paths["judges"] = write_judges_csv(store, out / "judges.csv", judges)
    return paths


def figure_stats(stats: AuditStats) -> AuditStats:
    """Return stats without the per-generation judge tables the report and paper outputs never read.

    At a million generations the full snapshot is a GB, freed before the figures are drawn. The generations
    kept are the audited ones (the headline's sample) and one of every k (the axes).
    """
    d = stats.data
    gens = d.gens
    audited = d.audit_items["generation_id"] if d.audit_items is not None else []
    keep = gens.index.isin(audited) | ~gens["k"].duplicated().to_numpy()
    data = dataclasses.replace(
        d,
        gens=gens[keep],
        judge_gen=d.judge_gen.iloc[:0],
        judge_run_tally=None,
        judge_raw_tally=None,
    )
    return dataclasses.replace(stats, data=data)


def write_figures(stats: AuditStats, out: Path, judges=None, extra_sections=()) -> dict[str, Path]:
    """Write report.html (with any extra HTML sections) and the paper outputs into out; return their paths."""
    paths = {"report": write_report(stats, out / "report.html", judges=judges, extra_sections=extra_sections)}
    paths.update(write_paper_outputs(stats, out))
    return paths
