"""The web API's tests hash passwords at argon2id's lowest cost (a millisecond instead of ~0.2 s of CPU and 64 MiB
a hash): they sign up and sign in some thousand times and are about the API, not the hash's parameters. A test
marked ``real_argon2`` keeps the production hasher (test_web_auth.py checks its parameters)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from ty_web import security

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_argon2: keep the production password hasher (no cheap one)")


@pytest.fixture(autouse=True)
def _cheap_argon2(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("real_argon2") is None:
        monkeypatch.setattr(security, "_hasher", CHEAP)
        monkeypatch.setattr(security, "_dummy_hash", None)
