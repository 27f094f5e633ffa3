"""Open a plain feed (see :mod:`.sources`) as a lazy table of strings, or say in one line
why it cannot be read.

Every column is read as text: typing is a rule, never the reader's (no ``na_values``). CSV is
scanned lazily; JSON arrays and XLSX have no streaming reader and are bounded by the size limit.
"""

import csv
import io
import json
import os
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl

from jobs_pipeline.domain.errors import FeedFormatError
from jobs_pipeline.domain.errors import FeedStructureError
from jobs_pipeline.validation.ruleset import normalise_name
from jobs_pipeline.validation.sources import HEAD, PlainFeed

DELIMITERS = ",;\t|"
#: A column name longer than this is refused before it is normalised (a "header" that is not one).
MAX_NAME_CHARS = 1024
#: The csv module's field limit (128 KiB by default) lifted: the lines were bounded by
#: ``FEED_MAX_LINE_BYTES`` before any reader ran (:class:`.sources.TextScan`).
CSV_FIELD_LIMIT = (1 << 31) - 1


@dataclass(frozen=True)
class FeedTable:
    frame: pl.LazyFrame
    feed_format: str
    encoding: str
    columns: list[str]  # normalised names, in file order
    raw_columns: list[str]  # as written in the file


def sniff_delimiter(text: str) -> str:
    """The candidate that splits the header into the most fields and the next lines into the
    same number (quoted fields respected). ``,`` when nothing splits."""
    lines = text.splitlines()[:50]
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line may be cut by the head's size
    best, best_score = ",", (0, 0)
    for d in DELIMITERS:
        rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=d))
        if not rows:
            continue
        width = len(rows[0])
        consistent = sum(1 for r in rows[1:] if len(r) == width)
        score = (width if width > 1 else 0, consistent)
        if score > best_score:
            best, best_score = d, score
    return best


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def xlsx_to_csv(path: Path, out: Path, label: str) -> None:
    """First worksheet -> UTF-8 CSV, row by row (openpyxl read-only mode)."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FeedFormatError(f"{label}: not a readable XLSX workbook ({type(exc).__name__})") from None
    try:
        ws = wb.worksheets[0]
        with out.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            for row in ws.iter_rows(values_only=True):
                if any(v is not None for v in row):
                    w.writerow([_cell(v) for v in row])
    finally:
        wb.close()


def _scan(feed: PlainFeed, label: str) -> tuple[pl.LazyFrame, str]:
    fmt = feed.feed_format
    if fmt == "xlsx":
        if feed.workdir is None:
            raise ValueError("an XLSX feed needs a workdir: open it with sources.plain_feed")
        out = feed.workdir / "sheet.csv"
        xlsx_to_csv(feed.path, out, label)
        feed.temp_files.append(out)
        return pl.scan_csv(out, infer_schema=False, encoding="utf8"), fmt
    if fmt == "parquet":
        return pl.scan_parquet(feed.path), fmt
    if fmt == "jsonl":
        names = pl.scan_ndjson(feed.path, infer_schema_length=1000).collect_schema().names()
        return pl.scan_ndjson(feed.path, schema={n: pl.String for n in names}), fmt
    if fmt == "json":
        return pl.read_json(feed.path, infer_schema_length=None).lazy(), fmt
    sep = delimiter_of(feed)
    fmt = "tsv" if sep == "\t" else "csv"
    return pl.scan_csv(feed.path, separator=sep, infer_schema=False, encoding="utf8", quote_char='"',
                       eol_char=feed.eol), fmt


def delimiter_of(feed: PlainFeed) -> str:
    """The separator of a CSV/TSV feed (``\\t`` for ``.tsv``, else sniffed from the head)."""
    if feed.feed_format == "tsv":
        return "\t"
    with feed.path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        return sniff_delimiter(fh.read(HEAD))


def csv_rows(fh: io.TextIOBase, delimiter: str):  # noqa: ANN201 - a csv reader
    """``csv.reader`` with the field limit lifted (see ``CSV_FIELD_LIMIT``)."""
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    return csv.reader(fh, delimiter=delimiter)


def _first_json_object(text: str) -> list[tuple[str, object]] | None:
    """The first record of a JSON array or JSON Lines text, keys kept in order and repeats kept
    (``None`` when it does not parse: the reader then says why)."""
    text = text.lstrip("\ufeff \t\r\n")
    start = 1 if text.startswith("[") else 0
    try:
        pairs, _ = json.JSONDecoder(object_pairs_hook=lambda p: p).raw_decode(text[start:].lstrip())
    except ValueError:
        return None
    is_object = isinstance(pairs, list) and all(isinstance(p, tuple) for p in pairs)  # an array gives a list of values
    return pairs if is_object else None


def file_columns(feed: PlainFeed, fmt: str, label: str) -> list[str] | None:
    """The column names as the file writes them, repeats included (polars renames or drops a
    repeated name): the CSV header, the first JSON record's keys, the Parquet schema. ``None``
    when they cannot be read here (the reader then fails and says why)."""
    if fmt in ("csv", "tsv", "xlsx"):
        path = feed.path if fmt != "xlsx" else feed.workdir / "sheet.csv"
        sep = "," if fmt == "xlsx" else delimiter_of(feed)
        with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
            try:
                return next(csv_rows(fh, sep), None)
            except csv.Error as exc:
                raise FeedStructureError(f"{label}: the header cannot be read ({exc})") from None
    if fmt in ("json", "jsonl"):
        with feed.path.open("r", encoding="utf-8-sig", errors="replace") as fh:
            text = fh.read(HEAD)
            pairs = _first_json_object(text)
            if pairs is None and len(text) == HEAD:  # a first record longer than the head (bounded by the line limit)
                pairs = _first_json_object(text + (fh.readline() if fmt == "jsonl" else fh.read()))
        return None if pairs is None else [k for k, _ in pairs]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_schema(feed.path).names
        except Exception:  # noqa: BLE001 - not Parquet after all: polars says why
            return None
    return None


def check_names(names: list[str], label: str) -> None:
    """Refuse a name too long to be one, and names that repeat exactly or once normalised."""
    for i, name in enumerate(names):
        if len(name) > MAX_NAME_CHARS:
            raise FeedStructureError(f"{label}: column {i + 1}'s name is {len(name):,} characters long "
                                     f"(over {MAX_NAME_CHARS:,}): is the first line a header?")
    normal = [normalise_name(c) or f"column_{i + 1}" for i, c in enumerate(names)]
    seen: dict[str, int] = {}
    for n in normal:
        seen[n] = seen.get(n, 0) + 1
    dupes = sorted({names[i] for i, n in enumerate(normal) if seen[n] > 1})
    if dupes:
        raise FeedStructureError(f"{label}: duplicate column names: {', '.join(map(repr, dupes))}")


def open_table(feed: PlainFeed) -> FeedTable:
    """A lazy table of strings with normalised column names."""
    label = feed.original.name
    try:
        frame, fmt = _scan(feed, label)
        schema = frame.collect_schema()
    except pl.exceptions.PolarsError as exc:
        check_names(file_columns(feed, feed.feed_format, label) or [], label)  # a repeated Parquet name
        raise FeedFormatError(f"{label}: cannot be read as {feed.feed_format} ({type(exc).__name__})") from None
    raw = schema.names()
    check_names(file_columns(feed, feed.feed_format, label) or raw, label)
    check_names(raw, label)
    names = [normalise_name(c) or f"column_{i + 1}" for i, c in enumerate(raw)]
    if fmt in ("csv", "tsv") and len(names) == 1:
        raise FeedStructureError(
            f"{label}: only one column found; the delimiter must be one of , ; tab |")
    nested = [n for n, t in schema.items() if t.is_nested()]
    if nested:
        raise FeedStructureError(f"{label}: column {nested[0]!r} holds nested values, not a flat table")
    frame = frame.rename(dict(zip(raw, names, strict=True))).with_columns(pl.all().cast(pl.String))
    return FeedTable(frame=frame, feed_format=fmt, encoding=feed.encoding, columns=names, raw_columns=raw)


#: polars has no API for the size of the chunks its streaming CSV reader reads; it reads this
#: variable each time a scan starts (and panics on a value that is not a positive integer).
CSV_CHUNK_VARIABLE = "POLARS_CSV_CHUNK_SIZE"


def limit_csv_chunks(chunk_bytes: int) -> None:
    """Make polars read CSV text ``chunk_bytes`` at a time. Its default keeps ~250 MB more in
    flight on 2 cores for no measured speed-up (docs/benchmarks.md). The variable is
    process-wide: it is written only when it differs, so a worker that validates feeds one
    after the other sets it once."""
    if chunk_bytes <= 0:
        raise ValueError(f"csv_chunk_bytes must be positive, not {chunk_bytes}")
    if os.environ.get(CSV_CHUNK_VARIABLE) != str(chunk_bytes):
        os.environ[CSV_CHUNK_VARIABLE] = str(chunk_bytes)


def first_ragged_row(path: Path, delimiter: str, width: int) -> tuple[int, int] | None:
    """(record number, field count) of the first record whose width differs from the
    header's; only called after the fast reader failed, to explain why. Raises ``csv.Error``
    on text the csv module cannot parse."""
    with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv_rows(fh, delimiter)
        next(reader, None)
        record = 0
        for row in reader:
            if not any(row):  # a blank line (or only delimiters) is not a record
                continue
            record += 1
            if len(row) != width:
                return record, len(row)
    return None
