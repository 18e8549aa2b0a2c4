"""Fixtures: a static HTTP server (Range, ETag, conditional requests) over a temporary
directory for the session, and a fault proxy in front of it."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from fault_proxy import FaultProxy  # noqa: E402
from static_server import StaticServer  # noqa: E402


@pytest.fixture(scope="session")
def www(tmp_path_factory):
    """(server, root directory)."""
    root = str(tmp_path_factory.mktemp("www"))
    server = StaticServer(root).start()
    yield server, root
    server.stop()


@pytest.fixture
def server(www):
    server, _root = www
    server.reset()
    return server


@pytest.fixture
def root(www):
    return www[1]


@pytest.fixture(scope="session")
def _session_proxy(www):
    server, _root = www
    proxy = FaultProxy(server.port).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def http_proxy(_session_proxy):
    """The session's fault proxy in front of the static server, its plan cleared."""
    _session_proxy.reset()
    return _session_proxy
