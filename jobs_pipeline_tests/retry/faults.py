"""Real failures, made by the real libraries against local servers (127.0.0.1 only).

Each maker performs a real call that fails and returns the exception it raised, so the
classifier is tested on what production code would actually catch.
"""

import contextlib
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
from botocore.config import Config

from jobs_pipeline_tests.services import free_port

#: one attempt only: we want botocore's own error, not its retries (nor their waiting).
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=2)


def raised(call: Callable[[], object]) -> BaseException:
    """Run ``call`` and return what it raised (fails loudly if it did not raise)."""
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 - that is the point
        return exc
    raise AssertionError(f"{call!r} did not raise")


def sqs_client(endpoint_url: str, **kwargs: object):
    return boto3.client("sqs", endpoint_url=endpoint_url, region_name="us-east-1", config=NO_RETRIES,
                        **kwargs)


def redis_client(url: str | None = None, *, port: int | None = None):
    """redis-py without its own retries (v6+ retries 3 times with backoff by default): one
    call, one real error, no waiting."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    options = {"socket_connect_timeout": 2, "socket_timeout": 2, "retry": Retry(NoBackoff(), 0)}
    if url is not None:
        return redis.Redis.from_url(url, **options)
    return redis.Redis(host="127.0.0.1", port=port, **options)


def closed_port() -> int:
    """A local port nobody listens on (bound then released)."""
    return free_port()


@contextlib.contextmanager
def socket_server(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A one-thread TCP server on 127.0.0.1 calling ``handle(conn)`` for each connection."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                try:
                    handle(conn)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def close_at_once(conn: socket.socket) -> None:
    """Read the whole request, then hang up without an answer (a crashed upstream). The body is
    read too: closing with unread bytes would send a reset instead of a clean hang-up."""
    conn.settimeout(2)
    with contextlib.suppress(OSError):
        data = b""
        while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length and (chunk := conn.recv(65536)):
            body += chunk


def never_answer(conn: socket.socket) -> None:
    """Accept and keep silent until the client gives up (a hung upstream)."""
    conn.settimeout(5)
    with contextlib.suppress(OSError):
        while conn.recv(65536):
            pass


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def tls_handler(cert: Path, key: Path) -> Callable[[socket.socket], None]:
    """Serve TLS with a self-signed certificate: clients that verify must refuse it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def handle(conn: socket.socket) -> None:
        conn.settimeout(2)
        with contextlib.suppress(OSError, ssl.SSLError):
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(65536)

    return handle
