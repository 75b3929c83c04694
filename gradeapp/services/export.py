"""Export the audit: pass_rates.csv, agreement.csv, verdicts.csv + verdicts.parquet, report.html,
annotators.csv, and the paper outputs (headline.tex/.md, k_curve and agreement as .svg/.pdf).

CSV cells are neutralised by gradeapp.io.tables (see there).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from gradeapp.core.results import AuditStats, StatsOptions
from gradeapp.db import Store, audit_store
from gradeapp.errors import GradeappError
from gradeapp.io.paper import write_paper_outputs
from gradeapp.io.report import write_report
from gradeapp.io.tables import write_csv
from gradeapp.paths import file_slug
from gradeapp.services.quality import write_annotators_csv
from gradeapp.services.stats import compute_stats

PASS_RATES_COLUMNS = [
    "student", "k", "metric", "estimator", "estimate", "ci_low", "ci_high",
    "n_audited", "n_judged", "judge_rate", "human_rate", "note",
]  # fmt: skip
VERDICT_EXPORT_COLUMNS = [
    "generation", "kind", "grader", "model", "endpoint_host", "prompt_version", "prompt_hash", "temperature",
    "max_tokens", "criterion", "run", "value", "status", "raw_value", "reason", "note", "seconds",
    "post_reveal", "guideline_version", "created", "submitted", "raw", "match_method",
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


def verdicts_frame(store: Store) -> pd.DataFrame:
    """Return every current verdict in long format (the columns of verdicts.csv / verdicts.parquet)."""
    df = audit_store.verdicts_export_df(store)
    for col in ("value", "run", "post_reveal", "max_tokens", "guideline_version", "submitted"):
        df[col] = pd.array(df[col].to_numpy(dtype=float, na_value=np.nan), dtype="Float64").astype("Int64")
    return df.reindex(columns=VERDICT_EXPORT_COLUMNS)


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
    # a folder that already holds files keeps them: the temporary folder goes inside it
    staging_parent = out if out.is_dir() and any(out.iterdir()) else out.parent
    try:
        staging_parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=staging_parent))
    except OSError as exc:
        raise GradeappError(f"{out}: cannot create the export folder ({exc.strerror})") from None
    try:
        written = _write_exports(store, staging, options, stats)
        if staging_parent == out:
            # out already holds files: replace ours one by one, each rename atomic
            for path in written.values():
                os.replace(path, out / path.relative_to(staging))
            staging.rmdir()
        else:
            if out.is_dir():
                out.rmdir()  # an empty folder given as target
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {name: out / path.relative_to(staging) for name, path in written.items()}


def _write_exports(
    store, out: Path, options: StatsOptions | None, stats: AuditStats | None
) -> dict[str, Path]:
    stats = stats or compute_stats(store, options)
    paths = {
        "pass_rates": write_csv(pass_rates_frame(stats), out / "pass_rates.csv"),
        "agreement": write_csv(agreement_frame(stats), out / "agreement.csv"),
    }
    verdicts = verdicts_frame(store)
    paths["verdicts_csv"] = write_csv(verdicts, out / "verdicts.csv")
    verdicts.to_parquet(out / "verdicts.parquet", index=False, engine="pyarrow")
    paths["verdicts_parquet"] = out / "verdicts.parquet"
    paths["report"] = write_report(stats, out / "report.html")
    paths.update(write_paper_outputs(stats, out))
    paths["annotators"] = write_annotators_csv(store, out / "annotators.csv")
    return paths
