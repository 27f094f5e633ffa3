"""Hostile feeds too big or too binary to commit, written at test time (and by
``bench/hostile_bench.py``): each generator writes one file into a folder and returns its path,
in chunks, so writing a 200 MB line costs no memory."""

import gzip
from collections.abc import Callable
from pathlib import Path

HEADER = "id,title,link,availability,price,currency"
GOOD = "{i},Camisa {i},https://x.example/{i},in_stock,9.90,BRL"
MB = 1 << 20


def _write(path: Path, *parts: bytes | tuple[bytes, int]) -> Path:
    """Write ``parts``; a ``(chunk, n)`` part is ``chunk`` repeated ``n`` times."""
    with path.open("wb") as fh:
        for part in parts:
            chunk, times = part if isinstance(part, tuple) else (part, 1)
            for _ in range(times):
                fh.write(chunk)
    return path


def _good_rows(n: int, start: int = 1) -> bytes:
    return "".join(GOOD.format(i=i) + "\n" for i in range(start, start + n)).encode()


def long_header(folder: Path, mb: int = 100) -> Path:
    """A header of ``mb`` MB without a newline: one giant "column name"."""
    return _write(folder / f"long_header_{mb}mb.csv", b"id,", (b"x" * MB, mb))


def huge_field(folder: Path, mb: int = 200) -> Path:
    """One record whose title is a single ``mb`` MB field."""
    return _write(folder / f"huge_field_{mb}mb.csv", HEADER.encode() + b"\n" + _good_rows(2),
                  b"3,", (b"y" * MB, mb), b",https://x.example/3,in_stock,9.90,BRL\n")


def huge_quoted_field(folder: Path, mb: int = 100) -> Path:
    """A quoted field of ``mb`` MB made of short lines (no line is long, the field is)."""
    line = b"z" * 99 + b"\n"
    return _write(folder / f"huge_quoted_field_{mb}mb.csv", HEADER.encode() + b"\n", b'1,"',
                  (line * (MB // 100), mb), b'",https://x.example/1,in_stock,9.90,BRL\n')


def big_field_then_ragged(folder: Path) -> Path:
    """A 200 KiB field (over the csv module's 128 KiB default), then a ragged record."""
    return _write(folder / "big_field_then_ragged.csv", HEADER.encode() + b"\n",
                  b"1,", b"t" * (200 << 10), b",https://x.example/1,in_stock,9.90,BRL\n",
                  b"2,T,https://x.example/2,in_stock,9.90,BRL,extra\n")


def late_nul(folder: Path) -> Path:
    """Good rows for ~100 KiB (past the 64 KiB head), then a NUL byte in a value."""
    rows = _good_rows(2000)
    return _write(folder / "late_nul.csv", HEADER.encode() + b"\n", rows, b"2001,Ca\x00misa,https://x.example/1,in_stock,9.90,BRL\n")


def json_array(folder: Path, mb: int = 3) -> Path:
    """A JSON array of about ``mb`` MB (read whole: its size counts as one line)."""
    record = b'{"id": "%d", "title": "Camisa", "link": "https://x.example/1", "price": "9.90"}'
    n = mb * MB // len(record % 1)
    return _write(folder / f"array_{mb}mb.json", b"[" + b",\n".join(record % i for i in range(n)) + b"]")


def _xlsx(path: Path, header: list[str]) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(header)
    wb.active.append(["1", "Camisa", "10.00", "-5"])
    wb.save(path)
    return path


def duplicate_exact_xlsx(folder: Path) -> Path:
    return _xlsx(folder / "duplicate_exact.xlsx", ["id", "title", "price", "price"])


def duplicate_normalised_xlsx(folder: Path) -> Path:
    return _xlsx(folder / "duplicate_normalised.xlsx", ["id", "title", "Price", "price "])


def duplicate_parquet(folder: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / "duplicate.parquet"
    columns = [pa.array(["1"]), pa.array(["Camisa"]), pa.array(["10.00"]), pa.array(["-5"])]
    pq.write_table(pa.Table.from_arrays(columns, names=["id", "title", "price", "price"]), path)
    return path


def duplicate_normalised_tsv_gz(folder: Path) -> Path:
    path = folder / "duplicate_normalised.tsv.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"id\ttitle\tPrice\tprice \n1\tCamisa\t10.00\t-5\n")
    return path


def duplicate_exact_zip(folder: Path) -> Path:
    import zipfile

    path = folder / "duplicate_exact.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("feed.csv", "id,title,price,price\n1,Camisa,10.00,-5\n")
    return path


def cr_only(folder: Path) -> Path:
    """Excel "CSV (Macintosh)": records end with CR alone (a quoted CR stays in its value)."""
    text = HEADER + "\r" + GOOD.format(i=1) + "\r" + '2,"Camisa\rdupla",https://x.example/2,in_stock,9.90,BRL\r'
    return _write(folder / "cr_only.csv", text.encode())


def blank_lines(folder: Path) -> Path:
    """2 good records, a blank line between them, 3 trailing newlines and a delimiters-only line."""
    return _write(folder / "blank_lines.csv", HEADER.encode() + b"\n" + _good_rows(1) + b"\n,,,,,\n"
                  + _good_rows(1, start=2) + b"\n\n\n")


#: name -> (generator, error class, a word the one-line reason holds)
UNUSABLE: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    "long_header": (long_header, "FeedStructureError", "FEED_MAX_LINE_BYTES"),
    "huge_field": (huge_field, "FeedStructureError", "FEED_MAX_LINE_BYTES"),
    "huge_quoted_field": (huge_quoted_field, "FeedStructureError", "quoted field"),
    "big_field_then_ragged": (big_field_then_ragged, "FeedStructureError", "ragged"),
    "late_nul": (late_nul, "FeedFormatError", "NUL"),
    "duplicate_exact_xlsx": (duplicate_exact_xlsx, "FeedStructureError", "'price'"),
    "duplicate_normalised_xlsx": (duplicate_normalised_xlsx, "FeedStructureError", "'Price'"),
    "duplicate_parquet": (duplicate_parquet, "FeedStructureError", "'price'"),
    "duplicate_normalised_tsv_gz": (duplicate_normalised_tsv_gz, "FeedStructureError", "'price '"),
    "duplicate_exact_zip": (duplicate_exact_zip, "FeedStructureError", "'price'"),
}
#: The cases whose files are big (written in chunks; a test measures their peak memory).
BIG = ("long_header", "huge_field", "huge_quoted_field")
#: Readable hostile files: name -> (generator, records_total).
READABLE: dict[str, tuple[Callable[[Path], Path], int]] = {
    "cr_only": (cr_only, 2),
    "blank_lines": (blank_lines, 2),
}
