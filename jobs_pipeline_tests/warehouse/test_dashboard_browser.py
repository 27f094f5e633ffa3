"""The dashboard in a real headless Chromium: every chart rendered, no console errors, a
screenshot saved; and a broken page is caught by the same inspection."""

import shutil
import struct
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from jobs_pipeline.warehouse import dashboard as dashboard_module
from jobs_pipeline.warehouse.connection import connect
from jobs_pipeline.warehouse.dashboard import CHARTS, write_dashboard
from jobs_pipeline.warehouse.recommendations import refresh_recommendations
from jobs_pipeline_tests.warehouse.browser import inspect_page, screenshot
from jobs_pipeline_tests.warehouse.history import History


@pytest.fixture(scope="module")
def dashboard(seeded_db: Path, history: History, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page as of 06:00 UTC on the history's last day (a partial day), with recommendations."""
    out = tmp_path_factory.mktemp("dashboard") / "quality_dashboard.html"
    db = out.with_name("quality.duckdb")
    shutil.copy(seeded_db, db)
    with connect(db) as con:
        con.execute("""UPDATE job_runs SET sole_errors_by_rule = CAST(json_object('price_positive',
            CAST(coalesce(CAST(errors_by_rule->>'price_positive' AS BIGINT), 0) // 2 AS BIGINT)) AS JSON)
            WHERE errors_by_rule IS NOT NULL""")
        for day in history.days[-3:]:
            refresh_recommendations(con, day)
    with connect(db, read_only=True) as con:
        write_dashboard(con, out, now=datetime.combine(history.days[-1], time(6), tzinfo=UTC))
    return out


def test_every_chart_renders_without_console_errors(dashboard: Path) -> None:
    html = dashboard.read_text()
    assert "src=" not in html and "@import" not in html and "url(" not in html  # nothing external
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    report = inspect_page(dashboard)
    assert report.console == []
    assert report.body.get("data-ready") == "true" and report.body.get("data-errors") == ""
    assert set(report.charts) == set(CHARTS)
    for name, chart in report.charts.items():
        assert chart.attrs.get("data-rendered") == "true", name
        assert chart.marks > 0 and int(chart.attrs["data-marks"]) > 0, name
    rate = report.charts["error-rate"].attrs
    assert rate["data-series"] == str(3 + 2 + 2)  # marketplaces, regions, categories: one line each
    assert rate["data-anomaly-marks"] == "3"  # the error-rate spike, on its marketplace, region and category
    assert rate["data-partial-bands"] == "3"  # the last day, shaded in each of the three panels
    latency = report.charts["latency"].attrs
    assert (latency["data-regions"], latency["data-series"], latency["data-partial-bands"]) == ("2", "4", "2")
    assert report.charts["hotspots"].attrs["data-rows"] == str(dashboard_module.TOP_HOTSPOTS)
    assert report.charts["anomalies"].attrs["data-rows"] == "3"  # the injected anomalies
    fix = report.charts["fix-first"].attrs
    assert fix["data-keys"] == "8" and int(fix["data-rules"]) >= 8 and int(fix["data-latency-outliers"]) > 0


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
    assert report.console == [] and report.body.get("data-errors") == ""
    assert {c.attrs.get("data-rendered") for c in report.charts.values()} == {"empty"}
    assert set(report.charts) == set(CHARTS)
