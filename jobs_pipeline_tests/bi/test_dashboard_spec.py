"""The Superset datasets' own SQL (bi/dashboard_spec.py ``VIRTUAL``), run on DuckDB directly.

The Superset test checks every chart against the sample snapshot; these cases are the ones that
snapshot cannot hold at once: a hot-spot day chosen when no complete day is there to choose.
"""

import importlib.util
from datetime import date, timedelta
from pathlib import Path

import duckdb

from jobs_pipeline.warehouse.marts import FIELD_ERROR_HOTSPOTS

SPEC = Path(__file__).resolve().parents[2] / "bi" / "dashboard_spec.py"


def _spec():
    loaded = importlib.util.spec_from_file_location("dashboard_spec", SPEC)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


def _hotspots(days: dict[date, bool], per_day: int = 15) -> list[tuple]:
    """``VIRTUAL['hotspots_newest_complete_day']`` over ``per_day`` field hot spots on each day
    (day -> is_partial): (day_shown, name) of its rows, in the tables' order."""
    spec = _spec()
    con = duckdb.connect()
    con.execute(FIELD_ERROR_HOTSPOTS.ddl)
    for day, partial in days.items():
        for i in range(per_day):
            con.execute("INSERT INTO field_error_hotspots VALUES (?, 'amazon', 'amazon@1', 'field', ?, ?, 1, 0.1, "
                        "1, 0, 0, NULL, now(), ?)", [day, f"f{i:02d}", 100 - i, partial])
    return con.execute(f"SELECT day_shown, name FROM ({spec.VIRTUAL['hotspots_newest_complete_day']}) "
                       "ORDER BY errors DESC, name").fetchall()


def test_hot_spots_show_the_newest_complete_day_bounded() -> None:
    today = date(2026, 12, 3)
    rows = _hotspots({today - timedelta(days=2): False, today - timedelta(days=1): False, today: True})
    assert {day for day, _ in rows} == {"2026-12-02"}
    assert [name for _, name in rows] == [f"f{i:02d}" for i in range(12)]


def test_hot_spots_of_a_partial_day_say_so_when_no_complete_day_is_there() -> None:
    today = date(2026, 12, 3)
    rows = _hotspots({today: True}, per_day=3)  # right after `make demo`: only today's partial day
    assert rows == [("2026-12-03 (partial)", "f00"), ("2026-12-03 (partial)", "f01"), ("2026-12-03 (partial)", "f02")]


def test_native_filter_scope_follows_the_installs_chart_ids() -> None:
    """After an import into an install whose chart ids differ from the export's, the stored
    chartsInScope is the dashboard's charts minus the (remapped) excluded ones."""
    loaded = importlib.util.spec_from_file_location("bootstrap", SPEC.with_name("bootstrap.py"))
    bootstrap = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(bootstrap)
    metadata = {"native_filter_configuration": [
        {"name": "Days", "scope": {"rootPath": ["ROOT_ID"], "excluded": [25, 27]}, "chartsInScope": [1, 2, 3]},
        {"name": "no stored scope", "scope": {"excluded": []}}]}
    assert bootstrap.rescope_native_filters(metadata, [27, 24, 26, 25])
    assert metadata["native_filter_configuration"][0]["chartsInScope"] == [24, 26]
    assert "chartsInScope" not in metadata["native_filter_configuration"][1]
    assert not bootstrap.rescope_native_filters(metadata, [24, 25, 26, 27])  # already right
