"""From the bytes a seller uploaded to one plain, local, UTF-8 (or columnar) file plus what it
was: format, encoding, compression. Memory stays bounded (fixed-size chunks); the size,
decompression-bomb and encoding limits refuse a file with a typed :class:`FeedFormatError` and a
one-line reason (docs/validation.md, "Any real-world file").
"""

import codecs
import gzip
import os
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from jobs_pipeline.domain.errors import FeedFormatError, FeedNotFoundError
from jobs_pipeline.domain.errors import (
    DecompressionBombError, FeedArchiveError, FeedEncodingError, FeedStructureError, FeedTooLargeError,
)

CHUNK = 1 << 20
HEAD = 64 * 1024
RATIO_GRACE_BYTES = 16 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
PARQUET_MAGIC = b"PAR1"
SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                  ".json": "json", ".parquet": "parquet", ".xlsx": "xlsx"}
# C0 controls other than tab, LF, CR: never in a text feed.
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 13))
_CP1252_UNDEFINED = {0x81, 0x8D, 0x8F, 0x90, 0x9D}


@dataclass(frozen=True)
class ReadLimits:
    """What a feed may cost. ``batch_rows`` bounds memory: the records that may fail are
    checked exactly that many at a time, whatever the file's size."""

    max_file_bytes: int = 2 << 30
    max_decompressed_bytes: int = 8 << 30
    max_compression_ratio: float = 100.0
    batch_rows: int = 50_000
    #: Bytes of CSV text polars reads at a time (see :func:`.reader.limit_csv_chunks`).
    csv_chunk_bytes: int = 4 << 20
    #: The longest line (or quoted field, or JSON array: read whole) a feed may hold: a
    #: reader keeps a record whole in memory, several times over.
    max_line_bytes: int = 16 << 20


@dataclass
class PlainFeed:
    """A local file ready for a reader: ``path`` is UTF-8 text (csv/tsv/jsonl/json) or a
    columnar/binary format (parquet/xlsx)."""

    path: Path
    original: Path
    feed_format: str
    encoding: str = "utf-8"
    compression: str | None = None
    size_bytes: int = 0
    temp_files: list[Path] = field(default_factory=list)
    #: Scratch folder for derived files (removed with the feed by :func:`plain_feed`).
    workdir: Path | None = None
    #: The record separator of a text feed: ``"\r"`` for CR-only files (Excel "CSV (Macintosh)").
    eol: str = "\n"


class TextScan:
    """What one pass over a text feed's bytes learns, a chunk at a time with C-speed searches
    (no Python per line): a NUL byte anywhere is refused at once; the longest line (ended by
    LF, or by CR for a CR-only file) and the longest quoted field are measured (lines shorter
    than a chunk are not looked at) and checked by :meth:`check` once the format is known.

    A quoted field is measured as a stretch without any quote that starts inside quotes. The
    quotes are only counted (to know "inside") when such a stretch grows past the limit, by
    reading ``path`` (the file the chunks come from, or are written to) up to its start: in a
    feed whose quotes come often, never."""

    def __init__(self, label: str, limits: ReadLimits, path: Path | None = None) -> None:
        self.path, self.label, self.limit = path, label, limits.max_line_bytes
        self.size = 0
        self.runs = {b"\n": 0, b"\r": 0}  # bytes since the last LF / CR
        self.longest = {b"\n": 0, b"\r": 0}
        self.unquoted = 0  # bytes since the last quote
        self.stretch_inside: bool | None = None  # whether that stretch is inside quotes, once known
        self.quoted_field = False  # a stretch inside quotes went past the limit
        self.counted, self.quotes = 0, 0  # quotes in the first ``counted`` bytes

    def feed(self, chunk: bytes) -> None:
        nul = chunk.find(b"\x00")
        if nul >= 0:
            raise FeedFormatError(f"{self.label}: a NUL byte at offset {self.size + nul:,}: binary content, not a text feed")
        for eol, run in self.runs.items():
            first = chunk.find(eol)
            if first < 0:
                self.runs[eol] = run + len(chunk)
            else:
                self.longest[eol] = max(self.longest[eol], run + first)
                self.runs[eol] = len(chunk) - chunk.rfind(eol) - 1
        first = chunk.find(b'"')
        if first >= 0:
            self._stretch_ends(self.unquoted + first)
            self.unquoted, self.stretch_inside = len(chunk) - chunk.rfind(b'"') - 1, None
        else:
            self.unquoted += len(chunk)
        self.size += len(chunk)
        if min(self.runs.values()) > self.limit:  # over the limit whatever the line ending
            raise self._too_long("a line")
        if self.unquoted > self.limit:
            self._stretch_ends(self.unquoted)

    def _stretch_ends(self, length: int) -> None:
        """A stretch without quotes of ``length`` bytes, ending here: too long inside quotes?"""
        if length <= self.limit or self.stretch_inside is not None:
            return
        start = self.size - self.unquoted  # just after the quote that opened (or closed) something
        self.stretch_inside = self._quotes_before(start) % 2 == 1
        self.quoted_field = self.quoted_field or self.stretch_inside

    def _quotes_before(self, offset: int) -> int:
        with self.path.open("rb") as fh:
            fh.seek(self.counted)
            while self.counted < offset:
                chunk = fh.read(min(CHUNK, offset - self.counted))
                if not chunk:
                    break
                self.quotes += chunk.count(b'"')
                self.counted += len(chunk)
        return self.quotes

    def check(self, fmt: str, eol: str) -> None:
        """Refuse a line (or a quoted CSV field) over ``max_line_bytes``; a JSON array is
        read whole, so its size counts as one line."""
        if fmt == "json" and self.size > self.limit:
            raise self._too_long("a JSON array", " (read whole: send JSON Lines)")
        if max(self.longest[eol.encode()], self.runs[eol.encode()]) > self.limit:
            raise self._too_long("a line")
        self._stretch_ends(self.unquoted)
        if fmt in ("csv", "tsv") and self.quoted_field:
            raise self._too_long("a quoted field")

    def _too_long(self, what: str, hint: str = "") -> FeedStructureError:
        return FeedStructureError(
            f"{self.label}: {what} longer than the FEED_MAX_LINE_BYTES limit of {self.limit:,} bytes{hint}")


def scan_text(path: Path, label: str, limits: ReadLimits) -> TextScan:
    """:class:`TextScan` of a whole file (one read, in chunks)."""
    scan = TextScan(label, limits, path)
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            scan.feed(chunk)
    return scan


def _copy_limited(src, dst_path: Path, compressed_size: int, limits: ReadLimits, label: str,
                  scan: TextScan | None = None) -> None:
    """Copy a decompressing stream into ``dst_path``, refusing bombs as the bytes come (and
    feeding ``scan``, so an expanded text feed needs no second read)."""
    written = 0
    with dst_path.open("wb") as out:
        while True:
            try:
                chunk = src.read(CHUNK)
            except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
                raise FeedFormatError(f"{label}: the compressed data is corrupt ({type(exc).__name__})") from None
            if not chunk:
                return
            written += len(chunk)
            if written > limits.max_decompressed_bytes:
                raise DecompressionBombError(
                    f"{label}: expands beyond the {limits.max_decompressed_bytes:,}-byte limit (decompression bomb?)")
            if written > RATIO_GRACE_BYTES and written > limits.max_compression_ratio * max(compressed_size, 1):
                raise DecompressionBombError(
                    f"{label}: expands more than {limits.max_compression_ratio:g}x (decompression bomb?)")
            out.write(chunk)
            if scan is not None:
                out.flush()  # the scan may read back what is written (to count quotes)
                scan.feed(chunk)


def _format_of(path: Path, head: bytes, inner_name: str) -> str:
    suffix = Path(inner_name).suffix.lower()
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffix]
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        return "jsonl"
    return "csv"


def _is_xlsx(zf: zipfile.ZipFile) -> bool:
    names = set(zf.namelist())
    return "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names)


def _feed_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return [i for i in zf.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")
            and not Path(i.filename).name.startswith(".")]


def _unzip(path: Path, limits: ReadLimits, tmp: Path, scan: TextScan) -> tuple[Path, str]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FeedFormatError(f"{path.name}: not a readable zip file ({type(exc).__name__})") from None
    with zf:
        if _is_xlsx(zf):
            return path, "xlsx"
        members = _feed_members(zf)
        if not members:
            raise FeedArchiveError(f"{path.name}: the zip holds no file; put exactly one feed in it")
        if len(members) > 1:
            raise FeedArchiveError(f"{path.name}: the zip holds {len(members)} files; put exactly one feed in it")
        info = members[0]
        if info.file_size > limits.max_decompressed_bytes:
            raise DecompressionBombError(
                f"{path.name}: declares {info.file_size:,} bytes, over the {limits.max_decompressed_bytes:,}-byte limit")
        out = scan.path = tmp / ("unzipped-" + Path(info.filename).name)
        try:
            with zf.open(info) as src:
                _copy_limited(src, out, info.compress_size, limits, path.name, scan)
        except (RuntimeError, NotImplementedError) as exc:  # encrypted or unsupported method
            raise FeedArchiveError(f"{path.name}: cannot open {info.filename} ({type(exc).__name__})") from None
        return out, Path(info.filename).name


def _gunzip(path: Path, limits: ReadLimits, tmp: Path, scan: TextScan) -> tuple[Path, str]:
    inner = path.name[:-3] if path.name.lower().endswith(".gz") else path.stem
    out = scan.path = tmp / ("gunzipped-" + inner)
    with gzip.open(path, "rb") as src:
        _copy_limited(src, out, path.stat().st_size, limits, path.name, scan)
    return out, inner


def _encoding_of(data: bytes, label: str, *, at_eof: bool) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FeedEncodingError(f"{label}: UTF-16 text; export the feed as UTF-8")
    controls = sum(data.count(bytes([c])) for c in _CONTROL)
    if b"\x00" in data or controls > max(8, len(data) // 100):
        raise FeedFormatError(f"{label}: binary content, not a text feed")
    bom = data.startswith(codecs.BOM_UTF8)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=at_eof)
        return "utf-8-sig" if bom else "utf-8"
    except UnicodeDecodeError as exc:
        if not data[: exc.start].isascii():
            raise FeedEncodingError(
                f"{label}: mixed encodings (UTF-8 text, then invalid bytes at offset {exc.start})") from None
    return _single_byte_encoding(data, label)


def _single_byte_encoding(data: bytes, label: str) -> str:
    high = set(data) & set(range(0x80, 0xA0))
    if high & _CP1252_UNDEFINED:
        raise FeedEncodingError(f"{label}: bytes are neither UTF-8 nor Windows-1252/Latin-1 text")
    return "cp1252" if high else "latin-1"


def full_encoding(path: Path, label: str) -> str:
    """Scan the whole file in chunks (only after a reader failed): its encoding, or a
    :class:`FeedEncodingError` when it has none we can read."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    seen_non_ascii = False
    offset = 0
    high: set[int] = set()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            high |= set(chunk) & set(range(0x80, 0xA0)) if not chunk.isascii() else set()
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                if seen_non_ascii or not chunk[: exc.start].isascii():
                    raise FeedEncodingError(
                        f"{label}: mixed encodings (UTF-8 text, then invalid bytes at offset {offset + exc.start})"
                    ) from None
                break
            seen_non_ascii = seen_non_ascii or not chunk.isascii()
            offset += len(chunk)
        else:
            return "utf-8"
        while chunk := fh.read(CHUNK):  # the rest decides cp1252 vs latin-1
            if not chunk.isascii():
                high |= set(chunk) & set(range(0x80, 0xA0))
    if high & _CP1252_UNDEFINED:
        raise FeedEncodingError(f"{label}: bytes are neither UTF-8 nor Windows-1252/Latin-1 text")
    return "cp1252" if high else "latin-1"


def transcode_to_utf8(feed: PlainFeed, encoding: str, tmp: Path) -> PlainFeed:
    """Rewrite a single-byte-encoded text feed as UTF-8, chunk by chunk."""
    out = tmp / ("utf8-" + feed.path.name)
    with feed.path.open("r", encoding=encoding, newline="") as src, out.open("w", encoding="utf-8", newline="") as dst:
        shutil.copyfileobj(src, dst, CHUNK)
    return replace(feed, path=out, encoding=encoding, temp_files=[*feed.temp_files, out])


#: Where every feed's temporary files go: one ``feed-*`` folder per feed being read, removed
#: when done; :func:`sweep_temp_feeds` removes what a killed process left behind.
TEMP_ROOT = Path(tempfile.gettempdir()) / "jobs_pipeline-feeds"
TEMP_PREFIX = "feed-"


def sweep_temp_feeds(older_than_s: float, root: Path | None = None) -> int:
    """Remove the temporary feed folders untouched for ``older_than_s`` seconds (longer than
    the longest job: no live job still uses them). Returns how many were removed."""
    root = TEMP_ROOT if root is None else root
    cutoff = time.time() - older_than_s
    removed = 0
    try:
        entries = list(root.iterdir())
    except OSError:  # no folder yet: nothing to sweep
        return 0
    for entry in entries:
        try:
            if entry.name.startswith(TEMP_PREFIX) and entry.lstat().st_mtime < cutoff:
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
                removed += 1
        except OSError:  # another process swept it first, or it is not ours to remove
            continue
    return removed


@contextmanager
def plain_feed(path: Path | str, limits: ReadLimits = ReadLimits()) -> Iterator[PlainFeed]:
    """Expand, sniff and (if needed) transcode ``path``; temporary files go when done."""
    path = Path(path)
    if not path.is_file():
        raise FeedNotFoundError(f"feed not found: {path}")
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
    except PermissionError as exc:
        raise FeedFormatError(f"{path.name}: cannot be read ({exc.strerror or 'permission denied'})") from None
    if size == 0:
        raise FeedFormatError(f"{path.name}: the file is empty")
    if size > limits.max_file_bytes:
        raise FeedTooLargeError(f"{path.name}: {size:,} bytes is over the {limits.max_file_bytes:,}-byte limit")
    TEMP_ROOT.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=TEMP_ROOT))
    try:
        feed = _prepare(path, size, limits, tmp)
        feed.workdir = tmp
        yield feed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _eol(head: bytes) -> str:
    """``"\\r"`` for a CR-only text (old Mac / Excel "CSV (Macintosh)"), else ``"\\n"``."""
    return "\r" if b"\r" in head and b"\n" not in head else "\n"


def _prepare(path: Path, size: int, limits: ReadLimits, tmp: Path) -> PlainFeed:
    with path.open("rb") as fh:
        magic = fh.read(8)
    current, inner_name, compression = path, path.name, None
    scan = TextScan(path.name, limits)
    if magic.startswith(GZIP_MAGIC):
        current, inner_name = _gunzip(path, limits, tmp, scan)
        compression = "gzip"
    elif magic.startswith(ZIP_MAGICS):
        current, inner_name = _unzip(path, limits, tmp, scan)
        if inner_name != "xlsx":
            compression = "zip"
    if inner_name == "xlsx":
        return PlainFeed(path=current, original=path, feed_format="xlsx", encoding="binary", size_bytes=size)
    with current.open("rb") as fh:
        head = fh.read(HEAD)
    if not head.strip():
        raise FeedFormatError(f"{path.name}: the file is empty" + (" once decompressed" if compression else ""))
    if compression and head.startswith((GZIP_MAGIC, *ZIP_MAGICS)):
        raise FeedArchiveError(f"{path.name}: an archive inside an archive; compress the feed once")
    fmt = _format_of(current, head, inner_name)
    feed = PlainFeed(path=current, original=path, feed_format=fmt, compression=compression, size_bytes=size)
    if fmt in ("parquet",):
        feed.encoding = "binary"
        return feed
    if head.startswith(b"PK\x03\x04") or head.startswith(PARQUET_MAGIC):
        raise FeedFormatError(f"{path.name}: binary content, not a text feed")
    encoding = _encoding_of(head, path.name, at_eof=len(head) < HEAD)
    feed.encoding = encoding
    feed.eol = _eol(head)
    if compression is None:  # an expanded feed was scanned as it was written
        scan = scan_text(current, path.name, limits)
    scan.check(fmt, feed.eol)
    if encoding in ("cp1252", "latin-1"):
        feed = transcode_to_utf8(feed, encoding, tmp)
    return feed


def limits_from_settings(settings) -> ReadLimits:  # noqa: ANN001 - jobs_pipeline.settings.Settings
    """The FEED_* environment variables as :class:`ReadLimits`."""
    return ReadLimits(max_file_bytes=settings.feed_max_file_bytes,
                      max_decompressed_bytes=settings.feed_max_decompressed_bytes,
                      max_compression_ratio=settings.feed_max_compression_ratio,
                      batch_rows=settings.feed_batch_rows,
                      csv_chunk_bytes=settings.feed_csv_chunk_bytes,
                      max_line_bytes=settings.feed_max_line_bytes)
