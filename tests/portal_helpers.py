"""Helpers of the portal's browser tests: Debian's Chromium driven by
Playwright (never a downloaded browser), one browser context per test with a
screenshot saved under tests/output/portal/, the page's address for a
Worker (`{origin}/portal/#token={token}`, as a portal session's `url`),
portal sessions, and a tiny HTTP server on 127.0.0.1 that serves a page
embedding the portal in an iframe.
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from delivery_helpers import shared_engine
from harness import ALL_PERMISSIONS, REPO_ROOT, Tenant, Worker, new_tenant

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = REPO_ROOT / "tests" / "output" / "portal"
CREATE_PORTAL_SESSION = "Webhook:CreatePortalSession"

# Playwright's assertions retry until this many milliseconds have passed.
expect.set_options(timeout=15_000)

def portal_url(worker: Worker, token: str) -> str:
    """The page's address with `token` in its fragment, as a session's `url` has it."""
    return f"{worker.url}/portal/#token={token}"


def open_portal(page: Page, url: str, route: str = "") -> None:
    """Opens the portal at `url` (one carrying `#token=`), then goes to `route`
    (e.g. `#/d/<id>`) the way a click on a link would."""
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    if route:
        page.evaluate("route => { location.hash = route }", route)


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module: each module that imports these fixtures
    has a copy of its own, and Playwright's sync API runs one at a time."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _new_page(browser: Browser, request, **context_args) -> tuple[Page, list[str]]:
    options = {"viewport": {"width": 1280, "height": 900}, "timezone_id": "UTC", "locale": "en-US"}
    options.update(context_args)
    context = browser.new_context(**options)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


def _finish(page: Page, request, errors: list[str], suffix: str = "") -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name) + suffix
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    finally:
        page.context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(browser, request):
    """A fresh browser context's page (1280×900, UTC); its screenshot is saved
    under tests/output/portal/<test>.png when the test ends."""
    p, errors = _new_page(browser, request)
    yield p
    _finish(p, request, errors)


@pytest.fixture
def new_page(browser, request):
    """Makes more pages with other context options (viewport, color scheme)."""
    made: list[tuple[Page, list[str]]] = []

    def make(**context_args) -> Page:
        made.append(_new_page(browser, request, **context_args))
        return made[-1][0]

    yield make
    for i, (p, errors) in enumerate(made):
        _finish(p, request, errors, suffix=f"-{i + 1}")


@pytest.fixture
def engine() -> Worker:
    """The Worker the delivery tests share: retries after 1 s, no rate limits."""
    return shared_engine()


@pytest.fixture
def org(engine) -> Tenant:
    """A fresh organization on `engine` with a signed-in user holding every permission."""
    t = new_tenant(engine)
    yield t
    t.close()


@pytest.fixture
def session_org(engine) -> Tenant:
    """Like `org`, and its user may also mint portal sessions."""
    t = new_tenant(engine, permissions=ALL_PERMISSIONS + (CREATE_PORTAL_SESSION,))
    yield t
    t.close()


# --- portal sessions ------------------------------------------------------------------------

def portal_session(tenant: Tenant, **body) -> dict:
    """POST /v1/{org}/portal_session/ (201 asserted): {session_id, url, token, expires_at}."""
    r = tenant.client.post(f"/v1/{tenant.org_id}/portal_session/", json=body)
    assert r.status_code == 201, (r.status_code, r.text)
    session = r.json()
    assert session["url"].endswith("#token=" + session["token"]), session
    return session


def revoke_session(tenant: Tenant, session_id: str) -> None:
    r = tenant.client.delete(f"/v1/{tenant.org_id}/portal_session/{session_id}")
    assert r.status_code == 204, (r.status_code, r.text)


# --- a page that embeds the portal ----------------------------------------------------------

class EmbeddingSite:
    """Serves, on 127.0.0.1 and a port of its own, one page whose iframe
    (title "Webhook portal") shows `src` (set once the origin is known)."""

    def __init__(self):
        self.src = "about:blank"
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                html = ('<!doctype html><title>Embedding site</title><h1>Our dashboard</h1>'
                        f'<iframe title="Webhook portal" src="{site.src}" width="1100" height="700">'
                        '</iframe>').encode()
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(html)))
                self.end_headers()
                self.wfile.write(html)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "EmbeddingSite":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
