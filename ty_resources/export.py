"""``tyctl export``: the demand snapshots or the profession similarity of a range of days, as one CSV or Parquet
file for analysts.

Each export is one query per day with the names an analyst needs beside the codes (the BERUFENET title, the
KldB title), read into a pandas frame and appended to the file, so memory holds one day however many are asked
for (a year of demand snapshots is millions of rows). Parquet columns have fixed types (a day whose levels are
all NULL still writes them as ``int16``), so every day's row group has one schema. The file is written beside
its target and renamed at the end: a failed export leaves no half file (a killed one a ``.NAME.*.part`` beside
it), and a file already there stays as it was until the new one is complete.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import sql

from ty_resources.frames import frame
from ty_resources.sqlfiles import sql_file

Format = Literal["csv", "parquet"]


@dataclass(frozen=True)
class Export:
    table: str
    query: str  # one day's rows, %(day)s
    schema: pa.Schema


DEMAND_SQL = sql_file(__file__, "export_demand.sql")
SIMILARITY_SQL = sql_file(__file__, "export_similarity.sql")

EXPORTS: dict[str, Export] = {
    "demand": Export("demand_snapshots", DEMAND_SQL, pa.schema([
        ("day", pa.date32()), ("kldb_code", pa.string()), ("kldb_title", pa.string()),
        ("berufenet_id", pa.string()), ("profession", pa.string()), ("domain_code", pa.string()),
        ("level", pa.int16()), ("state", pa.string()), ("offer_type", pa.int16()),
        ("active_postings", pa.int32()), ("new_postings", pa.int32()), ("invalidated_postings", pa.int32()),
    ])),
    "similarity": Export("profession_similarity", SIMILARITY_SQL, pa.schema([
        ("day", pa.date32()), ("kldb_code", pa.string()), ("kldb_title", pa.string()), ("rank", pa.int16()),
        ("neighbour_code", pa.string()), ("neighbour_title", pa.string()), ("score", pa.float64()),
        ("basis", pa.string()), ("neighbour_basis", pa.string()), ("postings", pa.int32()), ("model", pa.string()),
    ])),
}


@dataclass(frozen=True)
class ExportResult:
    path: Path
    days: int
    rows: int
    first: date | None
    last: date | None


def export_days(conn: psycopg.Connection, table: str, first: date | None, last: date | None) -> list[date]:
    """The days ``table`` holds within [first, last] (either open), oldest first."""
    query = sql.SQL("SELECT DISTINCT day FROM {} WHERE (%(first)s::date IS NULL OR day >= %(first)s::date)"
                    " AND (%(last)s::date IS NULL OR day <= %(last)s::date) ORDER BY day").format(sql.Identifier(table))
    return [r[0] for r in conn.execute(query, {"first": first, "last": last}).fetchall()]


@contextmanager
def _replaced_at_the_end(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` that becomes ``path`` when the block succeeds, and is gone otherwise (a
    killed export leaves a ``.NAME.*.part`` beside it). A symlink is followed: its target is replaced. The file
    gets the mode a new file gets here (mkstemp's own is 0600: unreadable to the analysts it is for)."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(handle, 0o666 & ~umask)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _typed(day_rows: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pandas(day_rows, schema=schema, preserve_index=False)


def export(conn: psycopg.Connection, what: str, path: Path, fmt: Format, first: date | None = None,
           last: date | None = None) -> ExportResult:
    """Write the days of ``what`` ("demand" or "similarity") within [first, last] to ``path`` as ``fmt``."""
    spec = EXPORTS[what]
    days = export_days(conn, spec.table, first, last)
    rows = 0
    with _replaced_at_the_end(path) as temporary:
        if fmt == "parquet":
            with pq.ParquetWriter(temporary, spec.schema, compression="zstd") as writer:
                for day in days:
                    table = _typed(frame(conn, spec.query, {"day": day}), spec.schema)
                    writer.write_table(table)
                    rows += table.num_rows
        else:
            with temporary.open("w", encoding="utf-8", newline="") as out:
                out.write(",".join(spec.schema.names) + "\n")  # the header, also when no day matched
                for day in days:
                    day_rows = _typed(frame(conn, spec.query, {"day": day}), spec.schema).to_pandas(
                        types_mapper=pd.ArrowDtype)
                    day_rows.to_csv(out, header=False, index=False)
                    rows += len(day_rows)
    return ExportResult(path, len(days), rows, days[0] if days else None, days[-1] if days else None)
