"""The "Feed quality" Superset dashboard on a real Superset (no mocks), as `make bi` sets it up.

One Superset per module: a snapshot with known data (``sample_snapshot``: the project's mart DDL,
detector and ``publish_snapshot``), ``bi/bootstrap.py`` into an empty SUPERSET_HOME (twice: the
second run must import nothing), then ``superset run`` on a free port. Each chart's saved data
query, run through the REST API, must return the numbers an independent SQL query computes from
the snapshot; the dashboard, rendered in headless Chromium, must draw every chart (a canvas or
SVG each, no error panel). The screenshot stays in the test's temporary folder.

Needs ``.venv-bi`` (``.ci/ensure-bi``), chromium and playwright: with CI=true a missing piece fails.
"""

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import httpx
import pytest

from jobs_pipeline_tests.bi import sample_snapshot
from jobs_pipeline_tests.services import free_port, missing_service

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.xdist_group("superset")]

ROOT = Path(__file__).resolve().parents[2]
BI_PYTHON = ROOT / ".venv-bi" / "bin" / "python"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

#: Per chart: the independent query of its numbers (key columns first, then the metric values)
#: and the names of those columns in the chart's data (x axis, groupby..., metrics...).
EXPECTED = {
    "Error rate by marketplace": (
        "SELECT day, marketplace, sum(records_error) / sum(records_total) FROM marketplace_quality_daily "
        "GROUP BY ALL", ("day", "marketplace"), ("error_rate",)),
    "Error rate by region": (
        "SELECT day, region, sum(records_error) / sum(records_total) FROM marketplace_quality_daily "
        "GROUP BY ALL", ("day", "region"), ("error_rate",)),
    "Error rate by category": (
        "SELECT day, category, sum(records_error) / sum(records_total) FROM marketplace_quality_daily "
        "GROUP BY ALL", ("day", "category"), ("error_rate",)),
    "Field error hot spots": (
        "SELECT name, marketplace, sum(errors) FROM field_error_hotspots WHERE kind = 'field' GROUP BY ALL",
        ("name", "marketplace"), ("errors",)),
    "Rule error hot spots": (
        "SELECT name, marketplace, sum(errors) FROM field_error_hotspots WHERE kind = 'rule' GROUP BY ALL",
        ("name", "marketplace"), ("errors",)),
    "p50 / p95 latency by region": (
        "SELECT day, region, latency_p50_ms, latency_p95_ms FROM region_latency_daily "
        "WHERE marketplace = '(all)'", ("day", "region"), ("p50_latency_ms", "p95_latency_ms")),
    "Volume: records by marketplace": (
        "SELECT day, marketplace, sum(records_total) FROM marketplace_quality_daily GROUP BY ALL",
        ("day", "marketplace"), ("records",)),
    "Anomalies (|score| by partition key)": (
        "SELECT day, partition_key, max(abs(score)) FROM quality_anomaly_scores WHERE status = 'anomaly' "
        "GROUP BY ALL", ("day", "partition_key"), ("max_abs_score",)),
    "Anomaly verdicts per day": (
        "SELECT day, status, count(*) FROM quality_anomaly_scores GROUP BY ALL",
        ("day", "status"), ("verdicts",)),
    "What to fix first: records each rule alone would make valid": (
        "SELECT rule, sum(sole_errors), sum(errors) FROM quality_recommendations GROUP BY ALL",
        ("rule",), ("records_fixed", "records_failing")),
    "Latency outliers: regions' p95 above their marketplace's": (
        "SELECT region, marketplace, avg(excess_ms) FROM latency_outliers GROUP BY ALL",
        ("region", "marketplace"), ("p95_excess_ms",)),
}


@dataclass
class Superset:
    url: str
    username: str
    password: str
    snapshot: Path
    home: Path
    folder: Path

    def api(self) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=120)
        login = client.post("/api/v1/security/login", json={
            "username": self.username, "password": self.password, "provider": "db", "refresh": False})
        login.raise_for_status()
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        csrf = client.get("/api/v1/security/csrf_token/")
        csrf.raise_for_status()
        client.headers["X-CSRFToken"] = csrf.json()["result"]
        client.headers["Referer"] = self.url
        return client


def _bootstrap(env: dict, snapshot: Path) -> str:
    done = subprocess.run([str(BI_PYTHON), str(ROOT / "bi" / "bootstrap.py"), "--snapshot", str(snapshot)],
                          env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def superset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Superset]:
    if not BI_PYTHON.exists():
        missing_service(f"{BI_PYTHON.parent.parent} missing (bash .ci/ensure-bi builds it)")
    if not Path(CHROMIUM).exists():
        missing_service("chromium is not installed (bash .ci/ensure-bi installs it)")
    folder = tmp_path_factory.mktemp("superset")
    snapshot = folder / "quality.snapshot.duckdb"
    sample_snapshot.build(folder / "quality.duckdb", snapshot)
    home = folder / "superset_home"
    username, password = "bi-test", secrets.token_urlsafe(12)
    env = {**os.environ, "SUPERSET_CONFIG_PATH": str(ROOT / "bi" / "superset_config.py"),
           "SUPERSET_HOME": str(home), "FLASK_APP": "superset",
           "SUPERSET_ADMIN_USERNAME": username, "SUPERSET_ADMIN_PASSWORD": password}
    env.pop("SUPERSET_SECRET_KEY", None)
    first = _bootstrap(env, snapshot)
    assert "imported" in first and password not in first
    metadata = home / "superset.db"
    stamp = (home / ".imported").read_text()
    again = _bootstrap(env, snapshot)  # what a second `make bi` does
    assert "dashboards up to date" in again and "imported" not in again and "created" not in again
    assert (home / ".imported").read_text() == stamp

    port = free_port()
    log = (folder / "superset-run.log").open("w")
    server = subprocess.Popen(
        [str(BI_PYTHON.with_name("superset")), "run", "-h", "127.0.0.1", "-p", str(port), "--with-threads"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (folder / "superset-run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "superset run did not answer /health in 180 s"
            time.sleep(0.5)
        assert metadata.exists()
        yield Superset(url, username, password, snapshot, home, folder)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _dashboard_charts(client: httpx.Client) -> list[dict]:
    response = client.get("/api/v1/dashboard/feed-quality/charts")
    response.raise_for_status()
    return response.json()["result"]


def _key(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    return value


def _chart_key(value: object, column: str) -> object:
    if column == "day" and isinstance(value, (int, float)):  # epoch milliseconds
        return datetime.fromtimestamp(value / 1000, UTC).date().isoformat()
    if column == "day" and isinstance(value, str):
        return value[:10]
    return value


def test_every_chart_queries_the_marts_numbers(superset: Superset) -> None:
    with closing(superset.api()) as client:
        charts = _dashboard_charts(client)
        assert sorted(c["slice_name"] for c in charts) == sorted(EXPECTED)
        database = client.get("/api/v1/database/", params={"q": "(page_size:100)"}).json()["result"]
        assert [d["backend"] for d in database] == ["duckdb"]
        with duckdb.connect(str(superset.snapshot), read_only=True) as con:
            for chart in charts:
                name = chart["slice_name"]
                sql, keys, metrics = EXPECTED[name]
                expected = {tuple(_key(v) for v in row[:len(keys)]): row[len(keys):]
                            for row in con.execute(sql).fetchall()}
                assert expected, f"{name}: the sample snapshot has no rows for it"
                saved = client.get(f"/api/v1/chart/{chart['id']}").json()["result"]
                context = json.loads(saved["query_context"])
                for query in context["queries"]:
                    query["post_processing"] = []  # the rows themselves, not the plot's pivot
                response = client.post("/api/v1/chart/data", json=context)
                assert response.status_code == 200, f"{name}: {response.text[:1000]}"
                [result] = response.json()["result"]
                assert result["status"] == "success" and not result.get("error"), name
                got = {tuple(_chart_key(row[k], k) for k in keys): tuple(row[m] for m in metrics)
                       for row in result["data"]}
                assert got.keys() == expected.keys(), name
                for key, values in expected.items():
                    assert got[key] == pytest.approx(tuple(float(v) for v in values), rel=1e-9), (name, key)


def test_dashboard_draws_every_chart_in_chromium(superset: Superset) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_service("playwright is not installed (pip install -e '.[dev]')")
    with closing(superset.api()) as client:
        names = sorted(c["slice_name"] for c in _dashboard_charts(client))
    shot = superset.folder / "feed-quality.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2600})
            page.goto(f"{superset.url}/login/")
            page.fill("#username", superset.username)
            page.fill("#password", superset.password)
            page.keyboard.press("Enter")
            page.wait_for_url(lambda url: "/login" not in url, timeout=60_000)
            page.goto(f"{superset.url}/superset/dashboard/feed-quality/?standalone=1")
            holders = page.locator(".dashboard-component-chart-holder")
            page.wait_for_function(
                """n => { const hs = document.querySelectorAll('.dashboard-component-chart-holder');
                          return hs.length === n && [...hs].every(h => h.querySelector('canvas, svg')
                              && !h.querySelector('.loading')); }""",
                arg=len(names), timeout=180_000)
            page.wait_for_load_state("networkidle", timeout=60_000)
            page.screenshot(path=str(shot), full_page=True)
            assert holders.count() == len(names)
            titles = sorted(t.strip() for t in page.locator(".dashboard-component-chart-holder "
                                                           "[data-test='editable-title']").all_inner_texts())
            assert titles == names
            for i in range(holders.count()):
                holder = holders.nth(i)
                assert holder.locator("canvas").count() >= 1, f"chart {i} drew no canvas"
                assert holder.locator("[role='alert'], .alert-danger, [data-test='error-tooltip']").count() == 0
                assert "No results" not in holder.inner_text()
        finally:
            browser.close()
    assert shot.stat().st_size > 50_000
    print(f"screenshot: {shot}", file=sys.stderr)
