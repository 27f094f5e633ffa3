"""Real services for tests: a private ``redis-server`` on a free port, moto's SQS server.

A missing service fails the test when ``CI=true`` (CI must never skip what it cannot run)
and skips it, with the reason, on a developer's machine.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing_service(reason: str) -> None:
    """Fail in CI, skip elsewhere."""
    if IN_CI:
        pytest.fail(f"required service missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it spawned: ``sig`` to
    its process group, then SIGKILL if it has not exited after ``timeout`` seconds."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:  # the whole group is gone already
        proc.wait()
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """Our own redis-server (nothing persisted), stopped afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing_service("redis-server binary not found (apt-get install redis-server)")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="redis-test-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    server = RedisServer(port=port, process=proc)
    try:
        wait_for_port(port)
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class MotoServer:
    port: int
    server: object

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def moto_server() -> Iterator[MotoServer]:
    """moto's server mode (SQS, S3) on a free local port, used through boto3."""
    import logging

    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        missing_service("moto[server] is not installed")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        wait_for_port(port)
        _warm_up_moto(f"http://127.0.0.1:{port}")
        yield MotoServer(port=port, server=server)
    finally:
        server.stop()


def _warm_up_moto(endpoint_url: str) -> None:
    """One call per service before any test's: moto builds a service's backends on its first
    request (2.9 s here, idle), over the 2 s read timeout of the fault tests' clients, whose
    real QueueDoesNotExist then arrived as a ReadTimeoutError."""
    import boto3
    from botocore.config import Config

    patient = Config(connect_timeout=10, read_timeout=120, retries={"total_max_attempts": 1})

    def client(service: str):
        return boto3.client(service, endpoint_url=endpoint_url, region_name="us-east-1", config=patient,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    client("sqs").list_queues()
    client("s3").list_buckets()
