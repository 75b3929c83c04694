"""Export the audit: pass_rates.csv, agreement.csv, verdicts.csv + verdicts.parquet, report.html.

CSV cells are neutralised by gradeapp.io.tables (see there).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from gradeapp.core.results import AuditStats, StatsOptions
from gradeapp.db import audit_store
from gradeapp.errors import GradeappError
from gradeapp.io.report import write_report
from gradeapp.io.tables import CsvTableWriter, write_csv
from gradeapp.paths import file_slug
from gradeapp.services.quality import write_annotators_csv
from gradeapp.services.stats import compute_stats

PASS_RATES_COLUMNS = [
    "student", "k", "metric", "estimator", "estimate", "ci_low", "ci_high",
    "n_audited", "n_judged", "judge_rate", "human_rate",
]  # fmt: skip
VERDICT_EXPORT_COLUMNS = [
    "generation", "kind", "grader", "model", "endpoint_host", "prompt_version", "prompt_hash", "temperature",
    "max_tokens", "criterion", "run", "value", "status", "raw_value", "reason", "note", "seconds",
    "post_reveal", "guideline_version", "created", "submitted", "raw",
]  # fmt: skip


def default_export_dir(store) -> Path:
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
EXPORT_CHUNK = 20_000  # generations of one grader per batch (a Parquet row group, a CSV block)


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


def verdict_batches(store, generation_chunk: int = EXPORT_CHUNK) -> Iterator[pd.DataFrame]:
    """Yield every current verdict in long format, a grader's range of generations at a time.

    In the order of the old single query (grader kind, grader id, generation, run, verdict id); memory
    depends on the chunk, not on the project. Frames have exactly VERDICT_EXPORT_COLUMNS.
    """
    gen_ids, uids = audit_store.generation_uids(store)
    for grader in audit_store.export_graders(store).itertuples(index=False):
        lo, hi = audit_store.grader_generation_range(store, grader.id)
        for start in range(lo, hi + 1, generation_chunk):
            df = audit_store.verdicts_export_chunk(store, grader.id, start, start + generation_chunk - 1)
            if df.empty:
                continue
            first = ~df["reply_id"].duplicated() & df["reply_id"].notna()
            df["raw"] = df["raw"].where(first)
            if grader.kind != "human":
                df["submitted"] = None
            df["generation"] = uids[np.searchsorted(gen_ids, df["generation_id"].to_numpy())]
            for col in ("kind", "grader", "model", "endpoint_host", "prompt_version", "prompt_hash"):
                df[col] = getattr(grader, col)
            df["temperature"] = grader.temperature
            df["max_tokens"] = grader.max_tokens
            for col in INT_COLUMNS:
                df[col] = pd.array(df[col].to_numpy(dtype=float, na_value=np.nan), dtype="Float64").astype(
                    "Int64"
                )
            yield df.reindex(columns=VERDICT_EXPORT_COLUMNS)


def verdicts_frame(store) -> pd.DataFrame:
    """Return every current verdict in long format in one frame (the columns of verdicts.csv / .parquet)."""
    parts = list(verdict_batches(store))
    if not parts:
        return pd.DataFrame(columns=VERDICT_EXPORT_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def write_verdicts(store, csv_path: Path, parquet_path: Path) -> int:
    """Stream every current verdict to verdicts.csv and verdicts.parquet (a row group per batch); return the rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = verdict_schema()
    rows = 0
    with CsvTableWriter(csv_path, schema) as csv_out, pq.ParquetWriter(parquet_path, schema) as parquet_out:
        for frame in verdict_batches(store):
            table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            parquet_out.write_table(table)
            csv_out.write(table)
            rows += len(frame)
    return rows


def export_project(
    store, out: Path | None = None, options: StatsOptions | None = None, stats: AuditStats | None = None
) -> dict[str, Path]:
    """Write the exports (six files) into out (default exports/<project>-<timestamp>/); return their paths."""

    out = Path(out) if out else default_export_dir(store)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GradeappError(f"{out}: cannot create the export folder ({exc.strerror})") from None
    stats = stats or compute_stats(store, options)
    paths = {
        "pass_rates": write_csv(pass_rates_frame(stats), out / "pass_rates.csv"),
        "agreement": write_csv(agreement_frame(stats), out / "agreement.csv"),
    }
    write_verdicts(store, out / "verdicts.csv", out / "verdicts.parquet")
    paths["verdicts_csv"] = out / "verdicts.csv"
    paths["verdicts_parquet"] = out / "verdicts.parquet"
    paths["report"] = write_report(stats, out / "report.html")
    paths["annotators"] = write_annotators_csv(store, out / "annotators.csv")
    return paths
