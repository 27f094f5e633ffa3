"""A real HTTP collector on 127.0.0.1 for the telemetry tests, with scripted faults.

``faults`` is consumed one per request, in arrival order: ``500``, ``502``, ``503``, ``400``,
``("429", retry_after)``, ``("slow", seconds)`` (stores the batch, answers late: the client
times out and re-sends), ``"drop"`` (reads the request, closes the socket, no answer). A
request without a scripted fault is accepted, unless it holds more than ``max_events``
events (413). ``stop()``/``start()`` make a real outage: the port refuses connections.
"""

import gzip
import json
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Collector:
    def __init__(self, max_events: int | None = None) -> None:
        self.max_events = max_events
        self.faults: deque[Any] = deque()
        self.lock = threading.Lock()
        self.accepted: list[dict[str, Any]] = []  # stored CloudEvents, in arrival order
        self.requests: list[dict[str, Any]] = []  # every request: headers, size, answer
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def start(self) -> None:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def setup(self) -> None:
                super().setup()
                with collector.lock:
                    collector._connections.add(self.connection)

            def do_POST(self) -> None:
                collector._handle(self)

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        """Outage: stop listening (new connections are refused)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self.lock:  # kept-alive connections die too, as in a real outage
            for conn in self._connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._connections.clear()

    def ids(self) -> list[str]:
        with self.lock:
            return [e["id"] for e in self.accepted]

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length", 0)))
        body = gzip.decompress(raw) if h.headers.get("Content-Encoding") == "gzip" else raw
        parsed = json.loads(body)
        events = parsed if isinstance(parsed, list) else [parsed]
        with self.lock:
            fault = self.faults.popleft() if self.faults else None
            record = {"headers": dict(h.headers), "events": [e["id"] for e in events],
                      "key": h.headers.get("Idempotency-Key"), "fault": fault, "body": body}
            self.requests.append(record)
        if fault == "drop":
            record["status"] = None
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if isinstance(fault, tuple) and fault[0] == "slow":
            self._store(events)
            time.sleep(fault[1])
            record["status"] = 200
            return self._answer(h, 200)
        if isinstance(fault, tuple) and fault[0] == "429":
            record["status"] = 429
            return self._answer(h, 429, {"Retry-After": str(fault[1])})
        if isinstance(fault, int):
            record["status"] = fault
            return self._answer(h, fault)
        if self.max_events is not None and len(events) > self.max_events:
            record["status"] = 413
            return self._answer(h, 413)
        self._store(events)
        record["status"] = 202
        self._answer(h, 202)

    def _store(self, events: list[dict[str, Any]]) -> None:
        with self.lock:
            self.accepted.extend(events)

    @staticmethod
    def _answer(h: BaseHTTPRequestHandler, status: int, headers: dict[str, str] | None = None) -> None:
        try:
            h.send_response(status)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.send_header("Content-Length", "0")
            h.end_headers()
        except OSError:
            pass  # the client gave up (timeout) before the slow answer
