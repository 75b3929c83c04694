"""Records of a source file in any of our formats (JSONL, CSV, Parquet), and the file's digest."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from gradeapp.errors import InputError
from gradeapp.io.text import read_csv_rows, read_jsonl

BATCH = 20_000


def file_digest(path: Path) -> str:
    """Return the SHA-256 of a source file, recorded with its import."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InputError(
            f"the file was removed or changed during the import ({exc.strerror}); nothing was imported",
            file=path,
        ) from None
    return digest.hexdigest()


def source_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line or row number, record) of a .csv, .parquet or JSONL source."""
    if path.suffix == ".csv":
        yield from read_csv_rows(path)
    elif path.suffix == ".parquet":
        yield from _parquet_rows(path)
    else:
        yield from read_jsonl(path)


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (row number, record) of a Parquet file (as written by 'gradeapp export'); nulls become None."""
    import pandas as pd  # deferred: pandas costs ~0.7 s of start-up

    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(f"not a readable Parquet file ({exc})", file=path) from None
    frame = frame.astype(object).where(frame.notna(), None)
    yield from enumerate(frame.to_dict("records"), 1)


def batched(rows: Iterable[Any], size: int = BATCH) -> Iterator[list[Any]]:
    """Yield lists of at most `size` rows."""
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
