"""A loopback GCS server for tests and benchmarks: ``gcp-storage-emulator`` on a free port.

The emulator (2026.7.19) lacks several GCS behaviours both TensorStore and tensorstore_py rely
on.  With ``fidelity=True`` these are filled in by wrapping its request handlers, so the two
libraries can be compared on real generations and conditions:

- media downloads carry ``x-goog-generation`` (the emulator omits it; without it TensorStore
  reports generation 0 for every read);
- ``ifGenerationMatch`` / ``ifGenerationNotMatch`` on get, insert and delete answer 412 / 304
  (the emulator ignores them);
- empty media uploads create empty objects (the emulator fails on them);
- suffix ranges (``Range: bytes=-N``) and ranges past the end (416) as GCS answers them;
- listing honours ``startOffset`` / ``endOffset`` and pages with ``maxResults`` /
  ``pageToken`` (the emulator returns every object in one page).

Independently of ``fidelity``, the server keeps connections alive (HTTP/1.1), has a large
listen backlog and does not re-serialize its metadata on every write, so that load tests and
benchmarks measure the clients rather than those costs.

With ``fidelity=False`` the emulator answers as shipped.  Requests are served by a thread per
connection; the emulator's storage is guarded by one lock.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import re
import socket
import threading
from http import HTTPStatus
from http.server import ThreadingHTTPServer

from gcp_storage_emulator import server as emu_server
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import buckets, objects
from gcp_storage_emulator.storage import Storage

__all__ = ["Emulator"]

DEFAULT_PAGE_SIZE = 1000


def _query_int(request, name: str) -> int | None:
    values = request.query.get(name)
    return int(values[0]) if values else None


def _current(storage, request) -> dict | None:
    try:
        return storage.get_file_obj(request.params["bucket_name"], request.params["object_id"])
    except NotFound:
        return None


def _fail(response, status: HTTPStatus, message: str) -> None:
    response.status = status
    response.json({"error": {"code": status.value, "message": message}})


def _preconditions_hold(request, response, obj: dict | None, *, read: bool) -> bool:
    """Applies ifGenerationMatch / ifGenerationNotMatch; False when the response is decided."""
    generation = int(obj["generation"]) if obj else 0
    match = _query_int(request, "ifGenerationMatch")
    if match is not None and match != generation:
        if obj is None and read:
            return True  # let the handler answer 404
        _fail(response, HTTPStatus.PRECONDITION_FAILED, "At least one of the pre-conditions you specified did not hold.")
        return False
    not_match = _query_int(request, "ifGenerationNotMatch")
    if not_match is not None and obj is not None and not_match == generation:
        response.status = HTTPStatus.NOT_MODIFIED
        return False
    return True


def _fidelity(storage) -> bool:
    return getattr(storage, "fidelity", False)


def _wrap_download(original):
    @functools.wraps(original)
    def download(request, response, storage, *args, **kwargs):
        if not _fidelity(storage):
            return original(request, response, storage, *args, **kwargs)
        obj = _current(storage, request)
        if not _preconditions_hold(request, response, obj, read=True):
            return None
        if obj is not None:
            size = int(obj.get("size") or 0)
            headers = request._request_handler.headers
            value = headers.get("range")
            suffix = re.fullmatch(r"\s*bytes=-([0-9]+)\s*", value or "")
            if suffix:
                del headers["range"]
                headers["range"] = f"bytes={max(0, size - int(suffix.group(1)))}-"
            start = re.fullmatch(r"\s*bytes=([0-9]+)-[0-9]*\s*", headers.get("range") or "")
            if start and int(start.group(1)) >= size:
                _fail(response, HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, "The requested range cannot be satisfied.")
                return None
        result = original(request, response, storage, *args, **kwargs)
        if obj is not None and response.status in (HTTPStatus.OK, HTTPStatus.PARTIAL_CONTENT):
            response["x-goog-generation"] = str(obj["generation"])
            response["x-goog-metageneration"] = str(obj.get("metageneration", "1"))
        return result

    return download


def _wrap_get(original):
    @functools.wraps(original)
    def get(request, response, storage, *args, **kwargs):
        if _fidelity(storage) and not (request.query.get("alt") and request.query["alt"][0] == "media"):
            if not _preconditions_hold(request, response, _current(storage, request), read=True):
                return None
        return original(request, response, storage, *args, **kwargs)

    return get


def _wrap_insert(original):
    @functools.wraps(original)
    def insert(request, response, storage, *args, **kwargs):
        if _fidelity(storage) and request.data is None:
            request._data = b""  # an empty media upload is an empty object, not a server error
        if _fidelity(storage) and "name" in request.query:
            try:
                obj = storage.get_file_obj(request.params["bucket_name"], request.query["name"][0])
            except NotFound:
                obj = None
            if not _preconditions_hold(request, response, obj, read=False):
                request.data  # drain the body so the connection stays usable
                return None
        return original(request, response, storage, *args, **kwargs)

    return insert


def _wrap_delete(original):
    @functools.wraps(original)
    def delete(request, response, storage, *args, **kwargs):
        if _fidelity(storage):
            obj = _current(storage, request)
            if obj is not None and not _preconditions_hold(request, response, obj, read=False):
                return None
        return original(request, response, storage, *args, **kwargs)

    return delete


def _wrap_ls(original):
    @functools.wraps(original)
    def ls(request, response, storage, *args, **kwargs):
        result = original(request, response, storage, *args, **kwargs)
        if not _fidelity(storage) or response.status != HTTPStatus.OK:
            return result
        listing = json.loads(response._content)
        items = sorted(listing.get("items") or [], key=lambda o: o["name"].encode("utf-8"))
        lo = request.query.get("startOffset", [""])[0].encode("utf-8")
        hi = request.query.get("endOffset", [""])[0].encode("utf-8")
        token = request.query.get("pageToken", [""])[0]
        after = base64.urlsafe_b64decode(token.encode()) if token else None
        kept = [
            o for o in items
            if o["name"].encode() >= lo and (not hi or o["name"].encode() < hi)
            and (after is None or o["name"].encode() > after)
        ]  # fmt: skip
        page_size = min(_query_int(request, "maxResults") or DEFAULT_PAGE_SIZE, getattr(storage, "page_size", DEFAULT_PAGE_SIZE))
        page, rest = kept[:page_size], kept[page_size:]
        listing["items"] = page
        if rest:
            listing["nextPageToken"] = base64.urlsafe_b64encode(page[-1]["name"].encode()).decode()
        response.json(listing)
        return result

    return ls


def _install_shims() -> None:
    """Rebuilds the emulator's routing table with the wrapped handlers (once per process)."""
    if getattr(emu_server, "_tensorstore_py_shims", False):
        return
    wrapped = {
        objects.download: _wrap_download(objects.download),
        objects.get: _wrap_get(objects.get),
        objects.insert: _wrap_insert(objects.insert),
        objects.delete: _wrap_delete(objects.delete),
        objects.ls: _wrap_ls(objects.ls),
    }
    # objects.get serves alt=media by calling the module-level download.
    objects.download = wrapped[objects.download]
    emu_server.HANDLERS = tuple(
        (regex, {method: wrapped.get(fn, fn) for method, fn in handlers.items()})
        for regex, handlers in emu_server.HANDLERS
    )
    emu_server._tensorstore_py_shims = True


class _Handler(emu_server.RequestHandler):
    # Keep-alive (and ``Expect: 100-continue``) as GCS offers them.  The body is read up front,
    # so a handler that ignores it cannot leave bytes behind on a reused connection.
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY every kept-alive
        # exchange would wait for the peer's delayed ACK (about 40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self, method: str) -> None:
        length = self.headers.get("Content-Length")
        connection = self.rfile
        if length is not None:
            self.rfile = io.BytesIO(connection.read(int(length)))
        elif "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
        try:
            with self.server.storage_lock:
                emu_server.Router(self).handle(method)
        finally:
            self.rfile = connection

    def do_GET(self):
        self._serve(emu_server.GET)

    def do_POST(self):
        self._serve(emu_server.POST)

    def do_PUT(self):
        self._serve(emu_server.PUT)

    def do_DELETE(self):
        self._serve(emu_server.DELETE)

    def do_PATCH(self):
        self._serve(emu_server.PATCH)

    def log_message(self, format, *args):
        pass


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 drops connections from concurrent clients (a dropped SYN costs a
    # one-second retransmit), which would make the server look slow under load.
    request_queue_size = 256


class Emulator:
    """An in-memory emulator on ``127.0.0.1:<free port>`` with the given buckets."""

    def __init__(self, buckets_: tuple[str, ...] = ("ts-bucket",), fidelity: bool = True, page_size: int = DEFAULT_PAGE_SIZE):
        _install_shims()
        self.storage = Storage(use_memory_fs=True)
        # The emulator re-serializes all metadata after every change (for its on-disk mode);
        # in memory that only makes each write O(number of objects).
        self.storage._write_config_to_file = lambda: None
        self.storage.fidelity = fidelity
        self.storage.page_size = page_size
        for name in buckets_:
            buckets.create_bucket(name, self.storage)
        self._httpd = _Server(("127.0.0.1", 0), functools.partial(_Handler, self.storage))
        self._httpd.daemon_threads = True
        self._httpd.storage_lock = threading.Lock()
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="gcs-emulator", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Emulator":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def objects(self, bucket: str) -> dict[str, bytes]:
        """Every object of `bucket` with its bytes (straight from the emulator's storage)."""
        with self._httpd.storage_lock:
            files, _prefixes = self.storage.get_file_list(bucket, None, None, None)
            return {f["name"]: self.storage.get_file(bucket, f["name"]) for f in files}

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":  # pragma: no cover - python gcs_emulator.py [bucket ...]
    import sys
    import time

    with Emulator(tuple(sys.argv[1:]) or ("ts-bucket",)) as emulator:
        print(emulator.url, flush=True)
        while True:
            time.sleep(3600)
