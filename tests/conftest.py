"""Fixtures of the end-to-end suite: one `wrangler dev` for the whole session
(retry schedule shortened to 1 s so delivery tests finish quickly; one per
test process when pytest-xdist runs the suite in several), a fresh
organization and signed-in user per test (so per-user rate limits never
collide between tests), the operator client, a webhook receiver, and a
factory for tests that need a Worker of their own (other settings, restarts).

Every test is bounded by pytest-timeout; a failing test shows the tail of the
wrangler log in its report.

Run in parallel (`pytest -n 2 --dist loadgroup`, as scripts/test.sh does),
the worker's wasm is built once before the test processes start; the tests
that share a module-scoped fixture run in one process, so it is set up once;
and the tests marked `slow` are handed out first, so that no process is left
running a long test alone at the end.
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


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes 15 s or more; handed out first when the suite runs in parallel")
    # The worker's wasm, built once per session (a no-op when up to date): by
    # the only process, or by pytest-xdist's controller before its test
    # processes start (they have `workerinput`).
    if not (hasattr(config, "workerinput") or config.option.collectonly or config.option.help):
        build_worker()


def module_fixture(item) -> str | None:
    """The first module-scoped fixture `item` uses, if any."""
    for name in item.fixturenames:
        defs = item._fixtureinfo.name2fixturedefs.get(name)
        if defs and defs[-1].scope == "module":
            return name
    return None


# Before pytest-xdist's own hook, which reads the `xdist_group` markers.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_SECONDS))
        shared = module_fixture(item)
        if shared is not None:
            item.add_marker(pytest.mark.xdist_group(f"{item.module.__name__}.{shared}"))
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def worker():
    """The Worker every test shares, stopped and its state removed at the end."""
    w = Worker(vars=SESSION_VARS)
    try:
        w.start()
        yield w
    finally:
        w.cleanup()


@pytest.fixture
def make_worker():
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
