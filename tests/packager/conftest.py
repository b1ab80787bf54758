"""Fixtures for the packager tests: one key and one built sample per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.packages import TestKey, build_sample, make_key


@pytest.fixture(scope="session")
def session_key(tmp_path_factory: pytest.TempPathFactory) -> TestKey:
    """A signing key shared by the session."""
    return make_key(tmp_path_factory.mktemp("key"))


@pytest.fixture(scope="session")
def data_processing(tmp_path_factory: pytest.TempPathFactory, session_key: TestKey) -> Path:
    """``data_processing-1.0.0.wfpkg`` built from source and signed by `session_key`."""
    return build_sample("data_processing", session_key, tmp_path_factory.mktemp("dist"))
