"""Optional parts used without their extra fail with an error naming the extra to install.

The missing package is simulated by blocking its import (``sys.modules[name] = None``)."""

from __future__ import annotations

import sys

import pytest

from tensorstore_py.kvstore.gcs import http as gcs_http
from tensorstore_py.kvstore.s3 import credentials as s3_credentials


def _block(monkeypatch, *names: str) -> None:
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def test_s3_signing_without_botocore_names_the_extra(monkeypatch):
    _block(monkeypatch, "botocore", "botocore.credentials", "botocore.exceptions", "botocore.session", "botocore.utils")
    with pytest.raises(ValueError, match=r"FAILED_PRECONDITION: .*pip install 'tensorstore_py\[s3\]'"):
        s3_credentials._lookup({"type": "default"})


def test_gcs_credentials_without_google_auth_name_the_extra(monkeypatch, tmp_path):
    _block(monkeypatch, "google.auth", "google.auth.exceptions")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "key.json"))
    with pytest.raises(ValueError, match=r"FAILED_PRECONDITION: .*pip install 'tensorstore_py\[gcs\]'"):
        gcs_http._default_credentials("scope")


def test_gcs_without_google_auth_or_credentials_is_anonymous(monkeypatch, tmp_path):
    _block(monkeypatch, "google.auth", "google.auth.exceptions")
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    assert gcs_http._default_credentials("scope") is None
