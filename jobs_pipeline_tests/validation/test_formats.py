"""Any real-world file: formats, compression, encodings, column names, and the results
(sample, full error report, file-level messages)."""

import gzip
import json
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from jobs_pipeline.validation.engine import validate_file
from jobs_pipeline.validation.ruleset import ruleset_for
from jobs_pipeline.validation.sources import ReadLimits

GM = ruleset_for("google_merchant", category="apparel", region="BR")
HEADER = ["id", "title", "link", "availability", "price", "currency"]
ROWS = [
    ["1", "Camisa algodão", "https://x.example/1", "in_stock", "9.90", "BRL"],
    ["2", "Calça\nlinha dupla", "https://x.example/2", "in stock", "N/A", "BRL "],  # 2 bad fields + 1
    ["3", "Boné", "http://x.example/3", "preorder", "5.0", "BRL"],
]


def _csv_text(sep: str = ",") -> str:
    def q(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in f'{sep}"\n') else v
    return "\n".join(sep.join(q(v) for v in r) for r in [HEADER, *ROWS]) + "\n"


def _check(result, fmt: str, encoding: str | None = None) -> None:
    assert result.records_total == 3 and result.records_error == 2 and result.records_valid == 1
    assert result.errors_by_field == {"availability": 1, "price": 1, "currency": 1, "link": 1}
    assert result.feed_format == fmt
    if encoding:
        assert result.encoding == encoding


@pytest.mark.parametrize("sep,fmt", [(",", "csv"), (";", "csv"), ("\t", "tsv"), ("|", "csv")])
def test_delimiters_are_detected_and_quoted_newlines_kept(tmp_path: Path, sep: str, fmt: str) -> None:
    path = tmp_path / "feed.txt"
    path.write_text(_csv_text(sep), encoding="utf-8")
    _check(validate_file(path, GM), fmt, "utf-8")


@pytest.mark.parametrize("encoding,label", [("utf-8-sig", "utf-8-sig"), ("cp1252", "cp1252"), ("latin-1", "latin-1")])
def test_encodings_are_detected_and_recorded(tmp_path: Path, encoding: str, label: str) -> None:
    text = _csv_text()
    if label == "cp1252":
        text = text.replace("Boné", "Boné – “novo”")  # en dash and quotes are 0x80-0x9F bytes
    path = tmp_path / "feed.csv"
    path.write_bytes(text.encode(encoding))
    result = validate_file(path, GM, sample_limit=50)
    _check(result, "csv", label)
    assert any(s.value and "algod" in (s.value or "") or s.row == 2 for s in result.sample)


def test_latin1_bytes_after_a_long_ascii_head_fall_back_to_transcoding(tmp_path: Path) -> None:
    lines = [",".join(HEADER)] + [f"{i},Item {i},https://x.example/{i},in_stock,1.00,BRL" for i in range(4, 3000)]
    lines.append("9999,Ação,https://x.example/z,in_stock,1.00,BRL")
    path = tmp_path / "late.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    result = validate_file(path, GM)
    assert result.records_total == 2997 and result.records_error == 0 and result.encoding == "latin-1"
    assert [p.name for p in tmp_path.iterdir()] == ["late.csv"]  # scratch files never land beside the feed


def test_jsonl_json_parquet_xlsx(tmp_path: Path) -> None:
    records = [dict(zip(HEADER, r, strict=True)) for r in ROWS]
    (tmp_path / "f.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    (tmp_path / "f.json").write_text(json.dumps(records, ensure_ascii=False))
    pl.DataFrame(records).write_parquet(tmp_path / "f.parquet")
    wb = openpyxl.Workbook()
    for r in [HEADER, *ROWS]:
        wb.active.append(r)
    wb.save(tmp_path / "f.xlsx")
    for name, fmt in [("f.jsonl", "jsonl"), ("f.json", "json"), ("f.parquet", "parquet"), ("f.xlsx", "csv")]:
        result = validate_file(tmp_path / name, GM)
        assert result.records_total == 3 and result.records_error == 2, name
        assert result.errors_by_field == {"availability": 1, "price": 1, "currency": 1, "link": 1}, name


def test_gzip_and_zip_are_transparent(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "feed.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write(_csv_text(";"))
    with zipfile.ZipFile(tmp_path / "feed.zip", "w") as z:
        z.writestr("export/feed.tsv", _csv_text("\t"))
    _check(validate_file(tmp_path / "feed.csv.gz", GM), "csv+gzip")
    _check(validate_file(tmp_path / "feed.zip", GM), "tsv+zip")


def test_column_names_are_normalised_and_aliased(tmp_path: Path) -> None:
    path = tmp_path / "br.csv"
    path.write_text(" ID ,Título,LINK,Disponibilidade,Preço,moeda,Cor favorita\n"
                    "1,Camisa,https://x.example/1,in_stock,9.90,BRL,azul\n", encoding="utf-8")
    result = validate_file(path, GM)
    assert result.records_error == 0 and result.file_errors == []
    assert result.file_warnings == ["unknown column 'cor_favorita': no google_merchant@2 rule reads it"]


def test_missing_required_column_is_one_file_level_message(tmp_path: Path) -> None:
    path = tmp_path / "nolink.csv"
    path.write_text("id,title,availability,price,currency\n" + "".join(f"{i},T{i},in_stock,1.00,BRL\n" for i in range(50)))
    result = validate_file(path, GM, report_dir=tmp_path / "rep")
    assert result.records_error == 50 and result.errors_by_rule == {"link.required": 50}
    assert result.file_errors == ["required column 'link' is missing: every record fails link.required"]
    report = pl.read_parquet(tmp_path / "rep" / "errors.parquet")
    assert report.height == 1 and report["row"].to_list() == [None]


def test_three_bad_fields_are_one_error_record_and_report_lists_every_failure(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(_csv_text(), encoding="utf-8")
    result = validate_file(path, GM, report_dir=tmp_path / "rep", sample_limit=2)
    assert result.records_error == 2 and sum(result.errors_by_field.values()) == 4
    assert len(result.sample) == 2  # capped
    assert [(s.row, s.field) for s in result.sample] == [(2, "availability"), (2, "price")]
    report = pl.read_csv(tmp_path / "rep" / "errors.csv", infer_schema=False)
    assert sorted(zip(report["row"], report["rule"])) == sorted(
        [("2", "availability.enum"), ("2", "price.type"), ("2", "currency.iso4217"), ("3", "link.https_url")])
    assert report.filter(pl.col("rule") == "currency.iso4217")["value"].to_list() == ["BRL "]
    assert pl.read_parquet(tmp_path / "rep" / "errors.parquet").height == 4


def test_duplicates_across_batches_count_every_repeat(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    ids = ["a", "b", "a", "c", "b", "a", "d", "c"]
    path.write_text("id,title,link,availability,price,currency\n" + "".join(
        f"{i},T,https://x.example/,in_stock,1,BRL\n" for i in ids))
    result = validate_file(path, GM, progress_every=3, report_dir=tmp_path / "rep")
    assert result.errors_by_rule == {"id.unique": 4}
    rows = pl.read_parquet(tmp_path / "rep" / "errors.parquet")["row"].to_list()
    assert sorted(rows) == [3, 5, 6, 8]


def test_report_and_sample_are_in_record_then_rule_order_with_repeats_merged_in(tmp_path: Path) -> None:
    # Repeats of ``id`` are found after the pass; they must land in record order among the
    # other failures, on rows of their own or beside the record's other failures.
    path = tmp_path / "dup.csv"
    rows = [("a", "1"), ("b", "N/A"), ("a", "2"), ("c", "1"), ("b", "0"), ("a", "x"), ("d", "1")]
    path.write_text("id,title,link,availability,price,currency\n" + "".join(
        f"{i},T,https://x.example/,in_stock,{p},BRL\n" for i, p in rows))
    result = validate_file(path, GM, report_dir=tmp_path / "rep", sample_limit=4, limits=ReadLimits(batch_rows=2))
    expected = [(2, "price.type"), (3, "id.unique"), (5, "id.unique"), (5, "price.range"),
                (6, "id.unique"), (6, "price.type")]
    report = pl.read_parquet(tmp_path / "rep" / "errors.parquet")
    assert list(zip(report["row"], report["rule"])) == expected
    assert report.filter(pl.col("rule") == "id.unique")["value"].to_list() == ["a", "b", "a"]
    assert [(s.row, s.rule) for s in result.sample] == expected[:4]
    assert result.records_error == 4 and result.errors_by_field == {"id": 3, "price": 3}
