"""Fixtures for integration tests against a real hub (Parse Server + PostgreSQL/PostGIS, see docs/testing-hub.md).

- `hub` (session): a started `TestHub` (tests/hubserver.py). If the machine lacks a tool the hub needs, the tests
  FAIL when CI is set (CI=true) and are skipped otherwise.
- `clean_hub` (function): the same hub, emptied before the test (all non-system classes dropped, users/sessions
  purged, cloud function overrides gone) and restarted first if an earlier test left Parse Server stopped.

Every test collected below tests/integration/ gets the `hub` marker.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hubserver import HubUnavailable, TestHub  # noqa: E402

_HERE = Path(__file__).resolve().parent


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.hub)


@pytest.fixture(scope="session")
def hub() -> Iterator[TestHub]:
    test_hub = TestHub()
    started = time.monotonic()
    try:
        test_hub.start_all()
    except HubUnavailable as exc:
        if _in_ci():
            pytest.fail(f"test hub unavailable in CI: {exc}", pytrace=False)
        pytest.skip(f"test hub unavailable (outside CI, skipping): {exc}")
    test_hub.startup_seconds = time.monotonic() - started  # type: ignore[attr-defined]
    try:
        yield test_hub
    finally:
        test_hub.close()


@pytest.fixture
def clean_hub(hub: TestHub) -> TestHub:
    if not hub.running:
        hub.start()
    hub.reset()
    return hub
