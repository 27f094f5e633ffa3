"""Open a feed file as a lazy table of strings, or say in one line why it cannot be read.

Every column is read as text: typing is a rule (``decimal_range`` ...), never a side effect
of the reader, so ``N/A`` or ``5.0`` reach the rules exactly as the seller wrote them.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from jobs_pipeline.errors import FeedFormatError, FeedNotFoundError

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
NDJSON_SUFFIXES = {".jsonl", ".ndjson"}
DELIMITERS = ",;\t|"


@dataclass(frozen=True)
class FeedTable:
    frame: pl.LazyFrame
    feed_format: str
    encoding: str
    columns: list[str]
    size_bytes: int


def normalise_column(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


def _sniff_delimiter(head: str) -> str:
    first_line = head.splitlines()[0] if head else ""
    try:
        return csv.Sniffer().sniff(first_line, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: first_line.count(d) for d in DELIMITERS}
        return max(counts, key=counts.get) if any(counts.values()) else ","


def _head(path: Path, size: int = 64 * 1024) -> str:
    raw = path.open("rb").read(size)
    if b"\x00" in raw:
        raise FeedFormatError(f"{path.name}: binary content, not a text feed")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(raw) - 4:  # not just a multibyte char cut at the buffer's end
            raise FeedFormatError(f"{path.name}: bytes are not valid UTF-8 (offset {exc.start})") from None
        return raw[: exc.start].decode("utf-8-sig")


def open_feed(path: Path | str) -> FeedTable:
    path = Path(path)
    if not path.is_file():
        raise FeedNotFoundError(f"feed not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise FeedFormatError(f"{path.name}: the file is empty")
    suffix = path.suffix.lower()
    head = _head(path)
    if suffix in NDJSON_SUFFIXES:
        frame = pl.scan_ndjson(path, infer_schema_length=1000)
        fmt = "jsonl"
    elif suffix == ".json":
        frame = pl.read_json(path).lazy()
        fmt = "json"
    elif suffix in CSV_SUFFIXES or not suffix:
        sep = "\t" if suffix == ".tsv" else _sniff_delimiter(head)
        frame = pl.scan_csv(path, separator=sep, infer_schema=False, encoding="utf8")
        fmt = "csv"
    else:
        raise FeedFormatError(f"{path.name}: unsupported file type {suffix!r}")
    try:
        schema = frame.collect_schema()
    except pl.exceptions.PolarsError as exc:
        raise FeedFormatError(f"{path.name}: cannot be read as {fmt}: {type(exc).__name__}") from None
    names = [normalise_column(c) for c in schema.names()]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise FeedFormatError(f"{path.name}: duplicate column names: {', '.join(dupes)}")
    frame = frame.rename(dict(zip(schema.names(), names, strict=True))).with_columns(
        pl.all().cast(pl.String)
    )
    return FeedTable(frame=frame, feed_format=fmt, encoding="utf-8", columns=names, size_bytes=size)
