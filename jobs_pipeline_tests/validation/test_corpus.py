"""Every hand-made unusable file in ``jobs_pipeline_tests/corpus`` is refused with its own
typed error and a one-line reason; ``jobs-pipeline validate`` prints it and exits 2 (the
generated hostile files: ``test_hostile.py``)."""

from pathlib import Path

import pytest

from jobs_pipeline.cli import EXIT_UNUSABLE, main
from jobs_pipeline.domain.errors import FeedFormatError
from jobs_pipeline.domain import errors as fe
from jobs_pipeline.validation.engine import validate_file
from jobs_pipeline.validation.ruleset import load_ruleset
from jobs_pipeline.validation.sources import ReadLimits

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

# file -> (error class, a word the reason must contain)
EXPECTED = {
    "empty.csv": (FeedFormatError, "empty"),
    "header_only.csv": (fe.FeedStructureError, "header only"),
    "binary_garbage.csv": (FeedFormatError, "binary"),
    "wrong_delimiter.csv": (fe.FeedStructureError, "delimiter"),
    "ragged_rows.csv": (fe.FeedStructureError, "ragged"),
    "undecodable_bytes.csv": (fe.FeedEncodingError, "encodings"),
    "duplicate_columns.csv": (fe.FeedStructureError, "duplicate column"),
    "duplicate_exact.csv": (fe.FeedStructureError, "duplicate column names: 'price'"),
    "duplicate_keys.jsonl": (fe.FeedStructureError, "duplicate column names: 'price'"),
    "duplicate_keys.json": (fe.FeedStructureError, "duplicate column names: 'price'"),
    "zip_empty.zip": (fe.FeedArchiveError, "no file"),
    "zip_many.zip": (fe.FeedArchiveError, "2 files"),
    "decompression_bomb.csv.gz": (fe.DecompressionBombError, "bomb"),
    "not_a_zip.zip": (FeedFormatError, "zip"),
    "oversized.csv": (fe.FeedTooLargeError, "limit"),
}
LIMITS = {"oversized.csv": ReadLimits(max_file_bytes=1000)}


def test_every_corpus_file_is_listed() -> None:
    assert sorted(p.name for p in CORPUS.iterdir() if p.suffix not in (".md", ".py") and p.is_file()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_engine_refuses_with_typed_error(name: str, tmp_path: Path) -> None:
    cls, word = EXPECTED[name]
    with pytest.raises(cls) as info:
        validate_file(CORPUS / name, load_ruleset("google_merchant"), report_dir=tmp_path / "r",
                      limits=LIMITS.get(name, ReadLimits()))
    reason = info.value.reason
    assert word in reason and "\n" not in reason and name in reason
    assert (CORPUS / name).exists()  # never deleted


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_cli_prints_reason_and_exits_2(name: str, settings, monkeypatch, capsys) -> None:
    if name == "oversized.csv":
        monkeypatch.setenv("FEED_MAX_FILE_BYTES", "1000")
    code = main(["validate", str(CORPUS / name), "--marketplace", "google_merchant"])
    err = capsys.readouterr().err.strip()
    assert code == EXIT_UNUSABLE == 2
    assert err.startswith("error: ") and EXPECTED[name][1] in err and len(err.splitlines()) == 1
