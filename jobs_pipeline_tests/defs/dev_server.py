"""``dagster dev`` as ``make dev`` starts it (webserver, daemon, code server) on a private
DAGSTER_HOME and data folder, in its own session, ended by process group; the CPU time of all
its processes; the job events of its event lake. Used by the daemon test and bench/pipeline_bench.py."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from unittest.mock import patch

from jobs_pipeline.telemetry.lake import PART_GLOB, complete_end
from jobs_pipeline_tests.services import stop_group

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {"job.completed", "job.failed"}
QUERY = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name } } } }"


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and of its waited-for children)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return int(fields[1]), ticks / os.sysconf("SC_CLK_TCK")


class DagsterDev:
    def __init__(self, home: Path, data_dir: Path, port: int, env: dict[str, str] | None = None) -> None:
        self.home, self.data_dir, self.port = Path(home), Path(data_dir), port
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "dagster.yaml"
        if not config.exists():
            config.symlink_to(ROOT / "dagster.yaml")
        self.env = {**os.environ, "DAGSTER_HOME": str(self.home), "JOBS_PIPELINE_DATA_DIR": str(self.data_dir),
                    **(env or {})}
        self.proc: subprocess.Popen | None = None
        self._seen: dict[str, int] = {}  # lake file -> bytes read
        self.events: list[dict] = []

    def start(self, timeout: float = 240) -> float:
        """Start and wait until the code location is served; returns the seconds it took."""
        started = time.monotonic()
        log = (self.home / "dagster-dev.log").open("wb")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster"), "dev", "-w", "workspace.yaml", "-p", str(self.port)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        while time.monotonic() - started < timeout and self.proc.poll() is None:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{self.port}/graphql",
                                             data=json.dumps({"query": QUERY}).encode(),
                                             headers={"content-type": "application/json"})
                with urllib.request.urlopen(req, timeout=5) as resp:
                    if json.loads(resp.read())["data"]["repositoriesOrError"].get("nodes"):
                        return time.monotonic() - started
            except (OSError, ValueError, KeyError, TypeError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"dagster dev did not serve the code location (log: {self.home / 'dagster-dev.log'})")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        stop_group(self.proc, signal.SIGINT, timeout=30)  # dagster dev maps SIGTERM onto SIGINT

    def __enter__(self) -> "DagsterDev":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def cpu_seconds(self) -> float:
        """CPU of every live process under ``dagster dev`` plus the children they reaped (run workers)."""
        assert self.proc is not None
        stats = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (s := _stat(int(entry.name))):
                stats[int(entry.name)] = s
        tree, frontier = set(), {self.proc.pid}
        while frontier:
            tree |= frontier
            frontier = {pid for pid, (ppid, _) in stats.items() if ppid in frontier and pid not in tree}
        return sum(stats[pid][1] for pid in tree if pid in stats)

    def poll_events(self) -> list[dict]:
        """New job events in the lake since the last call.

        A lake file exists before its lines do (the writer creates it and fsyncs its folder,
        then writes) and is appended to for as long as its writer lives (a landing run
        validates a batch of files and appends each job's events as the job ends), so each
        file is read from the byte offset the last call stopped at, complete lines only, as
        ingestion reads it. Reading each file once lost the jobs written after the first read:
        the daemon test waited out its deadline at 29 of 30."""
        new: list[dict] = []
        for part in sorted((self.data_dir / "lake").glob(PART_GLOB)):
            key = str(part)
            offset = self._seen.get(key, 0)
            with part.open("rb") as fh:
                fh.seek(offset)
                data = fh.read()
            end = complete_end(data)
            self._seen[key] = offset + end
            new += [json.loads(line) for line in data[:end].splitlines() if line.strip()]
        self.events += new
        return new

    def run_statuses(self) -> dict[str, int]:
        """How many runs of each job ended in each status, from the instance's own storage:
        what a failed count is checked against (launched? failed? never requested?)."""
        import dagster as dg

        counts: dict[str, int] = {}
        # dagster.yaml names its storage by DAGSTER_HOME
        with patch.dict(os.environ, {"DAGSTER_HOME": str(self.home)}), dg.DagsterInstance.get() as instance:
            for run in instance.get_runs():
                key = f"{run.job_name}:{run.status.value}"
                counts[key] = counts.get(key, 0) + 1
        return counts

    def terminal(self) -> dict[str, list[dict]]:
        """job id -> its terminal events (completed or failed), in lake order."""
        self.poll_events()
        done: dict[str, list[dict]] = {}
        for event in self.events:
            if event.get("type") in TERMINAL:
                done.setdefault(event["job_id"], []).append(event)
        return done
