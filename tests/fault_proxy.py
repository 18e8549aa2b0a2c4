"""A loopback HTTP proxy that injects faults between an HTTP client and a server on loopback.

Used in front of the GCS emulator, the S3 server (moto) and the plain HTTP test server.

Each incoming request takes the next action of the proxy's plan (then ``"pass"`` once the plan
is empty, or `default`):

- ``"pass"``: forward and relay the answer;
- ``"status:N"``: answer HTTP N without forwarding, with the body `error_body(N)` gives (by
  default a GCS-style JSON error; the S3 tests pass an XML one);
- ``"reset"``: abort the connection (TCP RST) without forwarding;
- ``"reset_after"``: forward, then abort instead of relaying the answer;
- ``"truncate"``: forward, then relay the headers but only half the body and close;
- ``"delay:S"``: wait S seconds, then forward;
- ``"strip:H"``: forward, then relay the answer without header H.

Requests are recorded (method, path, headers) and the peak number in flight is tracked.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["FaultProxy"]

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):
        pass

    def _abort(self) -> None:
        # SO_LINGER with a zero timeout turns close() into a reset.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        proxy = self.server.proxy
        conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
        # The Host header is kept: S3 clients sign it.
        headers = {k: v for k, v in self.headers.items() if k.lower() == "host" or k.lower() not in _HOP_HEADERS}
        conn.request(self.command, self.path, body=body if body else None, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, response.getheaders(), data

    def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes, cut: bool = False) -> None:
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in _HOP_HEADERS:
                self.send_header(k, v)
        if self.command == "HEAD":
            # A HEAD answer keeps the length the server announced and carries no body.
            length = next((v for k, v in headers if k.lower() == "content-length"), "0")
            self.send_header("Content-Length", length)
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2] if cut else data)
        if cut:
            self.wfile.flush()
            self._abort()

    def _handle(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        action = proxy.next_action(self.command, self.path, dict(self.headers))
        # A request counts as in flight until its answer starts: the client may send its next
        # request as soon as it has read this reply, before this thread would get to leave().
        proxy.enter()
        left = False
        try:
            if action.startswith("status:"):
                code = int(action.split(":", 1)[1])
                content_type, payload = proxy.error_body(code)
                proxy.leave()
                left = True
                self._reply(code, [("Content-Type", content_type)], b"" if self.command == "HEAD" else payload)
                return
            if action == "reset":
                proxy.leave()
                left = True
                self._abort()
                return
            if action.startswith("delay:"):
                time.sleep(float(action.split(":", 1)[1]))
            status, headers, data = self._forward(body)
            proxy.leave()
            left = True
            if action == "reset_after":
                self._abort()
                return
            if action.startswith("strip:"):
                name = action.split(":", 1)[1].lower()
                headers = [(k, v) for k, v in headers if k.lower() != name]
            self._reply(status, headers, data, cut=(action == "truncate"))
        finally:
            if not left:
                proxy.leave()

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


def gcs_error_body(code: int) -> tuple[str, bytes]:
    """A GCS JSON API error document."""
    return "application/json", b'{"error": {"code": %d, "message": "injected %d"}}' % (code, code)


class FaultProxy:
    """``FaultProxy(upstream_port)``: start(), set ``plan``, read ``requests``, stop()."""

    def __init__(self, upstream_port: int, default: str = "pass", error_body=gcs_error_body):
        self.upstream_port = upstream_port
        self.error_body = error_body
        self.default = default
        self.plan: list[str] = []
        self.requests: list[tuple[str, str, dict]] = []
        self.in_flight = 0
        self.peak = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.request_queue_size = 128
        self._httpd.proxy = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def next_action(self, method: str, path: str, headers: dict) -> str:
        with self._lock:
            self.requests.append((method, path, headers))
            return self.plan.pop(0) if self.plan else self.default

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def reset(self, plan: list[str] | None = None, default: str = "pass") -> None:
        with self._lock:
            self.plan = list(plan or [])
            self.default = default
            self.requests = []
            self.peak = 0

    def start(self) -> "FaultProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
