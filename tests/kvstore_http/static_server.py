"""A loopback HTTP server for a directory, with byte ranges and conditional requests.

`StaticServer(root)` serves the files under `root` (GET and HEAD) the way a static file server
or CDN does:

- ``ETag`` (strong: a hash of the file's bytes) and ``Last-Modified`` on every answer;
- ``Range: bytes=a-b`` / ``a-`` / ``-n`` -> 206 with ``Content-Range``; an unsatisfiable range
  -> 416;
- ``If-Match`` (412 on mismatch), ``If-None-Match`` (304 on match), ``If-Modified-Since``
  (304 when not modified), ``If-Unmodified-Since`` (412 when modified);
- a missing file -> 404, a directory -> 404.

Switches for the tests: ``send_etag`` / ``send_last_modified`` (leave the header out),
``honour_range`` (False: answer 200 with the whole file, as some servers do).  Requests are
recorded as (method, path, headers).
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["StaticServer"]


def _parse_range(header: str, size: int) -> tuple[int, int] | None | str:
    """``(start, stop)``, None to ignore the header, or ``"unsatisfiable"``."""
    if not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].strip().partition("-")
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                return "unsatisfiable"
            return max(0, size - n), size
        start = int(first)
        stop = size if last == "" else min(size, int(last) + 1)
    except ValueError:
        return None
    if start >= size or stop <= start:
        return "unsatisfiable"
    return start, stop


def _etag_list(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _serve(self) -> None:
        server = self.server.owner
        with server.lock:
            server.requests.append((self.command, self.path, dict(self.headers)))
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        full = os.path.normpath(os.path.join(server.root, path.lstrip("/")))
        if not full.startswith(os.path.normpath(server.root)) or not os.path.isfile(full):
            self._send(404, {"Content-Type": "text/plain"}, b"not found")
            return
        with open(full, "rb") as f:
            data = f.read()
        mtime = int(os.stat(full).st_mtime)
        etag = '"' + hashlib.sha1(data).hexdigest() + '"'
        headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
        if server.send_etag:
            headers["ETag"] = etag
        if server.send_last_modified:
            headers["Last-Modified"] = email.utils.formatdate(mtime, usegmt=True)
        if_match = self.headers.get("If-Match")
        if if_match is not None and if_match.strip() != "*" and etag not in _etag_list(if_match):
            self._send(412, headers)
            return
        if_unmodified = self.headers.get("If-Unmodified-Since")
        if if_unmodified is not None:
            since = email.utils.parsedate_to_datetime(if_unmodified).timestamp()
            if mtime > since:
                self._send(412, headers)
                return
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            if if_none_match.strip() == "*" or etag in _etag_list(if_none_match):
                self._send(304, headers)
                return
        else:
            if_modified = self.headers.get("If-Modified-Since")
            if if_modified is not None:
                since = email.utils.parsedate_to_datetime(if_modified).timestamp()
                if mtime <= since:
                    self._send(304, headers)
                    return
        range_header = self.headers.get("Range")
        if range_header and server.honour_range:
            span = _parse_range(range_header, len(data))
            if span == "unsatisfiable":
                self._send(416, {"Content-Range": f"bytes */{len(data)}"})
                return
            if span is not None:
                start, stop = span
                headers["Content-Range"] = f"bytes {start}-{stop - 1}/{len(data)}"
                self._send(206, headers, data[start:stop])
                return
        self._send(200, headers, data)

    do_GET = do_HEAD = _serve


class StaticServer:
    """``StaticServer(root).start()``; ``url``; ``requests``; ``stop()``."""

    def __init__(self, root: str):
        self.root = root
        self.send_etag = True
        self.send_last_modified = True
        self.honour_range = True
        self.requests: list[tuple[str, str, dict]] = []
        self.lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="static-http", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self.lock:
            self.requests = []
        self.send_etag = True
        self.send_last_modified = True
        self.honour_range = True

    def start(self) -> "StaticServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
