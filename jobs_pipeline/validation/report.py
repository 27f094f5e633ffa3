"""The full error report a seller downloads: one row per failing (record, rule), written
batch by batch to Parquet (bounded memory) and copied to CSV at the end.

Columns: ``row`` (1-based record number, empty for file-level problems), ``field``,
``rule``, ``severity``, ``value`` (first ``REPORT_VALUE_CHARS`` characters), ``message``.
"""

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

REPORT_VALUE_CHARS = 500
SCHEMA = {"row": pl.Int64, "field": pl.String, "rule": pl.String, "severity": pl.String,
          "value": pl.String, "message": pl.String}


class ErrorReportWriter:
    """Appends failing values; ``close`` writes ``errors.parquet`` and ``errors.csv``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.parquet_path = self.directory / "errors.parquet"
        self.csv_path = self.directory / "errors.csv"
        self._writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            return
        table = frame.select([pl.col(n).cast(t) for n, t in SCHEMA.items()]).to_arrow()
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.parquet_path, table.schema, compression="zstd")
        self._writer.write_table(table)
        self.rows += frame.height

    def write_file_level(self, field: str, rule: str, severity: str, message: str) -> None:
        self.write(pl.DataFrame([{"row": None, "field": field, "rule": rule, "severity": severity,
                                  "value": None, "message": message}], schema=SCHEMA))

    def close(self) -> None:
        if self._writer is None:
            pl.DataFrame(schema=SCHEMA).write_parquet(self.parquet_path)
        else:
            self._writer.close()
        pl.scan_parquet(self.parquet_path).sink_csv(self.csv_path)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        for p in (self.parquet_path, self.csv_path):
            p.unlink(missing_ok=True)
