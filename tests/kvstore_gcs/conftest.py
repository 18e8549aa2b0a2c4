"""Fixtures: a GCS emulator for the session, fault proxies, and both libraries' gcs stores.

The emulator is ``gcp-storage-emulator`` in memory on a free loopback port (see
`gcs_emulator.py` for the GCS behaviours added on top of it).  Both libraries find it through
``TENSORSTORE_GCS_HTTP_URL``, which each reads when a store is opened.
"""

from __future__ import annotations

import os
import sys
import uuid

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import tensorstore as ref  # noqa: E402
import tensorstore_py as ts  # noqa: E402
import tensorstore_py.kvstore.gcs  # noqa: E402,F401  (registers the driver)
from gcs_emulator import Emulator  # noqa: E402
from fault_proxy import FaultProxy  # noqa: E402
from gcs_testing import BUCKET, gcs_spec  # noqa: E402



@pytest.fixture(scope="session")
def emulator():
    server = Emulator((BUCKET, "other-bucket")).start()
    saved = os.environ.get("TENSORSTORE_GCS_HTTP_URL")
    os.environ["TENSORSTORE_GCS_HTTP_URL"] = server.url
    yield server
    if saved is None:
        os.environ.pop("TENSORSTORE_GCS_HTTP_URL", None)
    else:
        os.environ["TENSORSTORE_GCS_HTTP_URL"] = saved
    server.stop()


@pytest.fixture
def prefix(emulator) -> str:
    """A fresh key prefix, so tests sharing the session emulator never see each other's keys."""
    return f"t{uuid.uuid4().hex[:12]}/"


@pytest.fixture
def stores(emulator, prefix):
    """(reference store, our store) on the same bucket and prefix."""
    return (
        ref.KvStore.open(gcs_spec(prefix)).result(),
        ts.KvStore.open(gcs_spec(prefix)).result(),
    )


@pytest.fixture
def proxy(emulator, monkeypatch):
    """A fault proxy in front of the session emulator; stores opened in the test use it."""
    server = FaultProxy(emulator.port).start()
    monkeypatch.setenv("TENSORSTORE_GCS_HTTP_URL", server.url)
    yield server
    server.stop()
