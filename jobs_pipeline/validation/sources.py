"""From the bytes a seller uploaded to one plain, local, UTF-8 (or columnar) file plus what it
was: format, encoding, compression. Memory stays bounded (fixed-size chunks); the size,
decompression-bomb and encoding limits refuse a file with a typed :class:`FeedFormatError` and a
one-line reason (docs/validation.md, "Any real-world file").
"""

import codecs
import gzip
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from jobs_pipeline.domain.errors import FeedFormatError, FeedNotFoundError
from jobs_pipeline.domain.errors import (
    DecompressionBombError, FeedArchiveError, FeedEncodingError, FeedTooLargeError,
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


def _copy_limited(src, dst_path: Path, compressed_size: int, limits: ReadLimits, label: str) -> None:
    """Copy a decompressing stream into ``dst_path``, refusing bombs as the bytes come."""
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


def _unzip(path: Path, limits: ReadLimits, tmp: Path) -> tuple[Path, str]:
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
        out = tmp / ("unzipped-" + Path(info.filename).name)
        try:
            with zf.open(info) as src:
                _copy_limited(src, out, info.compress_size, limits, path.name)
        except (RuntimeError, NotImplementedError) as exc:  # encrypted or unsupported method
            raise FeedArchiveError(f"{path.name}: cannot open {info.filename} ({type(exc).__name__})") from None
        return out, Path(info.filename).name


def _gunzip(path: Path, limits: ReadLimits, tmp: Path) -> tuple[Path, str]:
    inner = path.name[:-3] if path.name.lower().endswith(".gz") else path.stem
    out = tmp / ("gunzipped-" + inner)
    with gzip.open(path, "rb") as src:
        _copy_limited(src, out, path.stat().st_size, limits, path.name)
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


@contextmanager
def plain_feed(path: Path | str, limits: ReadLimits = ReadLimits()) -> Iterator[PlainFeed]:
    """Expand, sniff and (if needed) transcode ``path``; temporary files go when done."""
    path = Path(path)
    if not path.is_file():
        raise FeedNotFoundError(f"feed not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise FeedFormatError(f"{path.name}: the file is empty")
    if size > limits.max_file_bytes:
        raise FeedTooLargeError(f"{path.name}: {size:,} bytes is over the {limits.max_file_bytes:,}-byte limit")
    tmp = Path(tempfile.mkdtemp(prefix="feed-"))
    try:
        feed = _prepare(path, size, limits, tmp)
        feed.workdir = tmp
        yield feed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _prepare(path: Path, size: int, limits: ReadLimits, tmp: Path) -> PlainFeed:
    with path.open("rb") as fh:
        magic = fh.read(8)
    current, inner_name, compression = path, path.name, None
    if magic.startswith(GZIP_MAGIC):
        current, inner_name = _gunzip(path, limits, tmp)
        compression = "gzip"
    elif magic.startswith(ZIP_MAGICS):
        current, inner_name = _unzip(path, limits, tmp)
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
    if encoding in ("cp1252", "latin-1"):
        feed = transcode_to_utf8(feed, encoding, tmp)
    return feed


def limits_from_settings(settings) -> ReadLimits:  # noqa: ANN001 - jobs_pipeline.settings.Settings
    """The FEED_* environment variables as :class:`ReadLimits`."""
    return ReadLimits(max_file_bytes=settings.feed_max_file_bytes,
                      max_decompressed_bytes=settings.feed_max_decompressed_bytes,
                      max_compression_ratio=settings.feed_max_compression_ratio,
                      batch_rows=settings.feed_batch_rows,
                      csv_chunk_bytes=settings.feed_csv_chunk_bytes)
