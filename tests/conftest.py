"""Fixtures of the end-to-end suite: one `wrangler dev` for the whole session
(retry schedule shortened to 1 s so delivery tests finish quickly), a fresh
organization and signed-in user per test (so per-user rate limits never
collide between tests), the operator client, a webhook receiver, and a
factory for tests that need a Worker of their own (other settings, restarts).

Every test is bounded by pytest-timeout; a failing test shows the tail of the
wrangler log in its report.
"""

from __future__ import annotations

import httpx
import pytest

from harness import Worker, admin as admin_client, build_worker, new_tenant
from receiver import Receiver
from schema import seed_spec

# Upper bound for one test, its fixtures included (the first test also waits
# for the session Worker to start).
TEST_TIMEOUT_SECONDS = 240

SESSION_VARS = {"EDGEHOOK_RETRY_SCHEDULE_SECONDS": "1,1,1,1,1"}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_SECONDS))


@pytest.fixture(scope="session")
def worker_build():
    """The worker's wasm, built once per session (no-op when up to date)."""
    build_worker()


@pytest.fixture(scope="session")
def worker(worker_build):
    """The Worker every test shares, stopped and its state removed at the end."""
    w = Worker(vars=SESSION_VARS)
    try:
        w.start()
        yield w
    finally:
        w.cleanup()


@pytest.fixture
def make_worker(worker_build):
    """Starts extra Workers with other settings: `make_worker(vars={...})`.
    Each is stopped and its state removed after the test."""
    started: list[Worker] = []

    def make(vars: dict[str, str] | None = None, start: bool = True) -> Worker:
        w = Worker(vars=vars)
        started.append(w)
        return w.start() if start else w

    yield make
    for w in started:
        w.cleanup()


@pytest.fixture(scope="session")
def served_openapi(worker) -> dict:
    """The OpenAPI document the session Worker serves at GET /openapi.json."""
    r = httpx.get(worker.url + "/openapi.json", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="session")
def seed_openapi() -> dict:
    """The seed API (Amigo's Webhook Destination endpoints), as published."""
    return seed_spec()


@pytest.fixture
def tenant(worker):
    """A new organization with one signed-in user holding every permission."""
    t = new_tenant(worker)
    yield t
    t.close()


@pytest.fixture
def admin(worker):
    """The operator API client of the session Worker."""
    with admin_client(worker) as client:
        yield client


@pytest.fixture
def receiver():
    """A started webhook receiver on 127.0.0.1 (answers 200 unless scripted)."""
    with Receiver() as rx:
        yield rx


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        workers = [v for v in item.funcargs.values() if isinstance(v, Worker)] \
            if hasattr(item, "funcargs") else []
        for w in workers:
            report.sections.append(
                (f"wrangler log tail (port {w.port})", w.log_tail(40))
            )
