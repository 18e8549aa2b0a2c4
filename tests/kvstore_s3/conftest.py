"""Fixtures: moto's S3 server for the session, a fault proxy in front of it, fresh prefixes."""

from __future__ import annotations

import os
import sys
import uuid

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from fault_proxy import FaultProxy  # noqa: E402
from s3_testing import MotoS3, s3_error_body  # noqa: E402


@pytest.fixture(scope="session")
def moto():
    server = MotoS3(("ts-bucket", "other-bucket")).start()
    yield server
    server.stop()


@pytest.fixture
def prefix(moto) -> str:
    """A fresh key prefix, so tests sharing the session server never see each other's keys."""
    return f"t{uuid.uuid4().hex[:12]}/"


@pytest.fixture(scope="session")
def _session_proxy(moto):
    proxy = FaultProxy(moto.port, error_body=s3_error_body).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def s3_proxy(_session_proxy):
    """The session's fault proxy in front of moto, its plan and records cleared."""
    _session_proxy.reset()
    return _session_proxy
