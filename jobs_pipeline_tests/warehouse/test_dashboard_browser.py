"""The dashboard in a real headless Chromium: every chart rendered, no console errors, a
screenshot saved; and a broken page is caught by the same inspection."""

import shutil
import struct
from pathlib import Path

import pytest

from jobs_pipeline.warehouse.dashboard import CHARTS, write_dashboard
from jobs_pipeline.warehouse.connection import connect
from jobs_pipeline_tests.warehouse.browser import inspect_page, screenshot


@pytest.fixture(scope="module")
def dashboard(seeded_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dashboard") / "quality_dashboard.html"
    with connect(seeded_db, read_only=True) as con:
        write_dashboard(con, out)
    return out


def test_every_chart_renders_without_console_errors(dashboard: Path) -> None:
    html = dashboard.read_text()
    assert "src=" not in html and "@import" not in html and "url(" not in html  # nothing external
    report = inspect_page(dashboard)
    assert report.console == []
    assert report.body.get("data-ready") == "true" and report.body.get("data-errors") == ""
    assert set(report.charts) == set(CHARTS)
    for name, chart in report.charts.items():
        assert chart.attrs.get("data-rendered") == "true", name
        assert chart.marks == int(chart.attrs["data-marks"]) > 0, name
    assert report.charts["error-rate"].marks == 3  # one line per marketplace
    assert report.charts["latency"].marks == 2 * 3  # BR and US, p50/p95/p99
    assert report.charts["anomalies"].marks == 3  # the injected anomalies


def test_screenshot_is_saved(dashboard: Path, tmp_path: Path) -> None:
    shot = screenshot(dashboard, tmp_path / "quality_dashboard.png")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1100)
    assert len(data) > 30_000  # charts and text, not a blank page
    keep = dashboard.parent / "quality_dashboard.png"
    shutil.copy(shot, keep)  # next to the page, for people looking at test output
    print(f"dashboard screenshot: {keep}")


def test_a_broken_page_is_caught(dashboard: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text(dashboard.read_text().replace("const data = JSON.parse", "notDefined(); const data = JSON.parse"))
    report = inspect_page(broken)
    assert any("notDefined" in line for line in report.console)
    assert "notDefined" in report.body.get("data-errors", "")
    assert all(c.attrs.get("data-rendered") is None for c in report.charts.values())


def test_empty_marts_render_an_honest_empty_page(tmp_path: Path) -> None:
    with connect(tmp_path / "empty.duckdb") as con:
        page, _ = write_dashboard(con, tmp_path / "empty.html")
    report = inspect_page(page)
    assert report.console == []
    assert {c.attrs.get("data-rendered") for c in report.charts.values()} == {"empty"}
