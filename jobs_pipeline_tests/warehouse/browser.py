"""Headless Chromium for the dashboard test: the DOM after scripts ran, console messages,
and a screenshot. Uses the command-line modes (``--dump-dom``, ``--screenshot``) with
console logging on stderr, so no extra client library is needed."""

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from jobs_pipeline_tests.services import missing_service

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1280,1100"]
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]? (.*)")


def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        missing_service("chromium not found (apt-get install chromium)")
    return binary


def _run(args: list[str]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120, check=False)


@dataclass
class Chart:
    attrs: dict[str, str]
    marks: int = 0  # <polyline>/<rect> elements drawn inside it


@dataclass
class PageReport:
    body: dict[str, str] = field(default_factory=dict)
    charts: dict[str, Chart] = field(default_factory=dict)
    console: list[str] = field(default_factory=list)


class _DomParser(HTMLParser):
    def __init__(self, report: PageReport) -> None:
        super().__init__()
        self.report = report
        self.stack: list[str | None] = []  # chart id owning each open element

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        owner = self.stack[-1] if self.stack else None
        if tag == "body":
            self.report.body = a
        if "chart" in a.get("class", "").split():
            owner = a.get("id")
            self.report.charts[owner] = Chart(a)
        elif owner and tag in ("polyline", "rect"):
            self.report.charts[owner].marks += 1
        if tag not in ("meta", "br", "img", "input", "link", "line", "polyline", "rect"):
            self.stack.append(owner)

    def handle_endtag(self, tag):
        if tag not in ("meta", "br", "img", "input", "link", "line", "polyline", "rect") and self.stack:
            self.stack.pop()


def inspect_page(page: Path) -> PageReport:
    """Load ``page``, let its scripts run, return the resulting DOM facts and console lines."""
    done = _run(["--enable-logging=stderr", "--v=0", "--dump-dom", page.resolve().as_uri()])
    report = PageReport()
    _DomParser(report).feed(done.stdout)
    report.console = [m.group(1) for line in done.stderr.splitlines() if (m := CONSOLE.search(line))]
    return report


def screenshot(page: Path, target: Path) -> Path:
    _run([f"--screenshot={target}", page.resolve().as_uri()])
    return target
