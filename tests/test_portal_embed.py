"""Browser tests of the portal as platforms embed it (issue 16): Debian's
Chromium, driven by Playwright, against a real `wrangler dev`; each test saves
a screenshot under tests/output/portal/.

- a new session's `#token=` handed to the open page (by following its URL,
  and by changing only the fragment of an iframe's `src`) opens that
  session's destinations; a token that cannot be read shows the invalid-link
  page and drops the old one;
- 30 loads of the delivery log in a minute stay within the session budget;
- deep links open one destination or one delivery, and a link to something
  that does not exist opens the destinations with a plain note;
- a themed session shows the platform's name, its accent on primary buttons
  with a readable text colour, and its mode;
- an ended session links back to the platform's `return_url`.
"""

from __future__ import annotations

import re
import time

import httpx
from playwright.sync_api import Page, expect

from delivery_helpers import CONVERSATION, KEY_EXPIRY, conversation_event, publish
from harness import HTTP_TIMEOUT, new_tenant
from portal_helpers import (EmbeddingSite, browser, engine, new_page, page, portal_session,  # noqa: F401
                            session_org)
from receiver import Receiver
from test_portal_api import keyed_user, mint_with


def heading(page_or_frame):
    return page_or_frame.get_by_role("heading", level=1)


def notice(page_or_frame):
    return page_or_frame.locator("#notice")


def minted(tenant, **body) -> dict:
    """A session minted with any body (the helper of test_portal.py asserts a bare URL)."""
    r = tenant.client.post(f"/v1/{tenant.org_id}/portal_session/", json=body)
    assert r.status_code == 201, (r.status_code, r.text)
    return r.json()


def rgb(hex_colour: str) -> str:
    """`#102060` as getComputedStyle writes it: `rgb(16, 32, 96)`."""
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


# --- a new session handed to an open page ------------------------------------------------------

def test_a_new_token_opens_the_new_sessions_destinations(page, engine, session_org):
    session_org.create_destination(name="Alpha")
    beta_org = new_tenant(engine)
    try:
        beta_org.create_destination(name="Beta")
        first = portal_session(session_org, ttl_seconds=600)
        second = portal_session(beta_org, ttl_seconds=600)

        page.goto(first["url"])
        page.get_by_role("link", name="Alpha", exact=True).click()
        expect(heading(page)).to_have_text("Alpha")

        # Following the second session's URL in the same tab changes only the
        # fragment: a same-document navigation, no new load.
        page.evaluate("window.loadedOnce = true")
        page.goto(second["url"])
        assert page.evaluate("window.loadedOnce") is True, "the page was loaded again"
        expect(heading(page)).to_have_text("Destinations")
        expect(page.get_by_role("link", name="Beta", exact=True)).to_be_visible()
        expect(page.get_by_role("link", name="Alpha", exact=True)).to_have_count(0)
        # The token left the address bar and the history entry it came in.
        assert "token" not in page.url
        assert page.evaluate("location.hash") == ""
        page.go_back()
        assert "token" not in page.url
        page.go_forward()
        # A reload keeps the new session.
        page.reload()
        expect(page.get_by_role("link", name="Beta", exact=True)).to_be_visible()

        # A token that cannot be read: the invalid-link page, and the old token is gone.
        page.evaluate("location.hash = '#token=not-a-token'")
        expect(heading(page)).to_have_text("Invalid link")
        assert "token" not in page.url
        page.reload()
        expect(heading(page)).to_have_text("No session")
    finally:
        beta_org.close()


def test_a_new_token_in_an_iframes_src_opens_the_new_session(page, engine, session_org):
    session_org.create_destination(name="Alpha")
    beta_org = new_tenant(engine)
    try:
        beta_org.create_destination(name="Beta")
        with EmbeddingSite() as site:
            first = portal_session(session_org, ttl_seconds=600, allowed_origins=[site.origin])
            second = portal_session(beta_org, ttl_seconds=600, allowed_origins=[site.origin])
            site.src = first["url"]
            page.goto(site.origin + "/")
            frame = page.frame_locator("iframe[title='Webhook portal']")
            expect(frame.get_by_role("link", name="Alpha", exact=True)).to_be_visible()
            frame.get_by_role("link", name="Alpha", exact=True).click()
            expect(heading(frame)).to_have_text("Alpha")

            # The host refreshes the session the way a fragment-only change does it:
            # same address, new token.
            same_address = first["url"].split("#")[0] + "#token=" + second["token"]
            loads: list[str] = []
            page.on("request", lambda r: loads.append(r.url) if "/portal/" in r.url and
                    r.resource_type == "document" else None)
            page.evaluate("src => { document.querySelector('iframe').src = src }", same_address)
            expect(heading(frame)).to_have_text("Destinations")
            expect(frame.get_by_role("link", name="Beta", exact=True)).to_be_visible()
            expect(frame.get_by_role("link", name="Alpha", exact=True)).to_have_count(0)
            assert loads == [], f"the frame was loaded again: {loads}"
            portal_frame = next(f for f in page.frames if "/portal/" in f.url)
            assert "token" not in portal_frame.url

            # The host can also point the frame at the next session's own URL (a new load).
            third = portal_session(session_org, ttl_seconds=600, allowed_origins=[site.origin])
            page.evaluate("src => { document.querySelector('iframe').src = src }", third["url"])
            expect(frame.get_by_role("link", name="Alpha", exact=True)).to_be_visible()
            expect(frame.get_by_role("link", name="Beta", exact=True)).to_have_count(0)
    finally:
        beta_org.close()


# --- the delivery log's budget ------------------------------------------------------------------

def test_thirty_delivery_log_loads_in_a_minute_meet_no_429(page, worker):
    """The session Worker keeps the real limits: an API user gets 5 delivery
    queries a minute, a portal session's log 120 (issue 16: 5)."""
    tenant = new_tenant(worker)
    try:
        with Receiver() as rx:
            dest, _ = tenant.create_destination(url=rx.url, accepted_types=[CONVERSATION], name="Busy")
            for _ in range(12):
                publish(tenant, conversation_event(tenant.org_id))
        session = minted(tenant, ttl_seconds=600, open={"destination_id": dest})
        queries: list[int] = []
        page.on("response", lambda r: queries.append(r.status) if re.search(r"/delivery(\?|$)", r.url) else None)
        started = time.monotonic()
        page.goto(session["url"])
        expect(heading(page)).to_have_text("Busy")
        log = page.get_by_role("form", name="Filter and sort deliveries")
        log.get_by_label("Per page", exact=True).select_option("10")
        log.get_by_role("button", name="Show deliveries").click()
        expect(page.locator("table.deliveries caption")).to_contain_text("Page 1: 10 deliveries")
        pager = page.get_by_role("navigation", name="Delivery pages")
        while len(queries) < 30:
            on_first = "Page 1:" in page.locator("table.deliveries caption").inner_text()
            pager.get_by_role("button", name="Next page" if on_first else "Previous page").click()
            expect(page.locator("table.deliveries caption")).to_contain_text(
                "Page 2: 2 deliveries" if on_first else "Page 1: 10 deliveries")
        elapsed = time.monotonic() - started
        assert elapsed < 60, elapsed
        assert len(queries) >= 30 and set(queries) == {200}, queries
        expect(page.get_by_text("Too many requests")).to_have_count(0)
    finally:
        tenant.close()


# --- deep links ---------------------------------------------------------------------------------

def test_deep_links_open_a_destination_or_a_delivery(new_page, engine, session_org):
    dest, _ = session_org.create_destination(name="Orders", accepted_types=[KEY_EXPIRY])
    other, _ = session_org.create_destination(name="Other", accepted_types=[KEY_EXPIRY])
    with Receiver() as rx:
        target, _ = session_org.create_destination(url=rx.url, accepted_types=[CONVERSATION], name="Target")
        delivery = publish(session_org, conversation_event(session_org.org_id))["delivery_ids"][0]

    to_destination = minted(session_org, ttl_seconds=600, open={"destination_id": dest})
    page = new_page()
    page.goto(to_destination["url"])
    expect(heading(page)).to_have_text("Orders")
    assert "token" not in page.url and page.url.endswith(f"#/d/{dest}")

    to_delivery = minted(session_org, ttl_seconds=600,
                         open={"destination_id": target, "delivery_id": delivery})
    page = new_page()
    page.goto(to_delivery["url"])
    expect(heading(page)).to_have_text(f"Delivery {delivery}")
    expect(page.locator(".settings").first).to_contain_text(CONVERSATION)

    # A link the platform built itself, to a destination that does not exist:
    # the destinations, with a note.
    plain = minted(session_org, ttl_seconds=600)
    page = new_page()
    page.goto(plain["url"] + "&destination=" + "f" * 24)
    expect(heading(page)).to_have_text("Destinations")
    expect(notice(page)).to_contain_text("The destination this link opens does not exist")
    expect(page.get_by_role("link", name="Other", exact=True)).to_be_visible()

    # ...and to a delivery that does not exist of a destination that does.
    missing = minted(session_org, ttl_seconds=600,
                     open={"destination_id": other, "delivery_id": "e" * 24})
    page = new_page()
    page.goto(missing["url"])
    expect(heading(page)).to_have_text("Destinations")
    expect(notice(page)).to_contain_text("The delivery this link opens does not exist")


# --- the platform's look ------------------------------------------------------------------------

def test_a_themed_session_wears_the_platforms_name_accent_and_mode(new_page, engine, session_org):
    session_org.create_destination(name="Themed")
    dark = minted(session_org, ttl_seconds=600,
                  theme={"name": "Acme Cloud", "accent_color": "#102060", "mode": "dark"})
    # The reader's system prefers light; the session says dark.
    page = new_page(color_scheme="light")
    page.goto(dark["url"])
    expect(page.locator("header .brand")).to_have_text("Acme Cloud")
    assert page.title() == "Acme Cloud · Webhooks"
    assert page.evaluate("document.documentElement.dataset.mode") == "dark"
    body = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert body == rgb("#15181d"), body
    button = page.get_by_role("button", name="Add destination")
    style = button.evaluate("b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]")
    # Navy takes white text on a button; as link text it cannot be read on the
    # dark page, so links keep the portal's own.
    assert style == [rgb("#102060"), rgb("#ffffff")], style
    link = page.get_by_role("link", name="Themed", exact=True)
    assert link.evaluate("a => getComputedStyle(a).color") == rgb("#6ea1ff")

    # Gold in light mode: black text on its buttons, links the portal's own blue.
    light = minted(session_org, ttl_seconds=600,
                   theme={"name": "Goldco", "accent_color": "#ffd700", "mode": "light"})
    page = new_page(color_scheme="dark")
    page.goto(light["url"])
    expect(page.locator("header .brand")).to_have_text("Goldco")
    assert page.evaluate("document.documentElement.dataset.mode") == "light"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == rgb("#ffffff")
    style = page.get_by_role("button", name="Add destination").evaluate(
        "b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]")
    assert style == [rgb("#ffd700"), rgb("#000000")], style
    assert page.get_by_role("link", name="Themed", exact=True).evaluate(
        "a => getComputedStyle(a).color") == rgb("#1f5fd1")

    # "auto" follows the reader's system; no theme keeps edgehook's look.
    auto = minted(session_org, ttl_seconds=600, theme={"accent_color": "#102060"})
    page = new_page(color_scheme="light")
    page.goto(auto["url"])
    expect(page.get_by_role("link", name="Themed", exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.dataset.mode") == "light"
    expect(page.locator("header .brand")).to_have_text("Webhooks")
    assert page.get_by_role("link", name="Themed", exact=True).evaluate(
        "a => getComputedStyle(a).color") == rgb("#102060")


# --- when a session ends -------------------------------------------------------------------------

def test_an_ended_session_links_back_to_the_platform(new_page, engine, session_org):
    session_org.create_destination(name="Soon gone")
    back = "http://127.0.0.1:9/settings/webhooks?tab=portal"
    # A session lasts no longer than the key that minted it: 6 seconds here.
    _, _, token, _ = keyed_user(engine, session_org.org_id, expires_in=6)
    session = mint_with(engine, session_org.org_id, token, ttl_seconds=3600, return_url=back)
    page = new_page()
    page.goto(session["url"])
    expect(page.get_by_role("link", name="Soon gone", exact=True)).to_be_visible()
    expect(heading(page)).to_have_text("Session ended", timeout=20_000)
    expect(page.get_by_role("alert")).to_contain_text("expired")
    link = page.get_by_role("link", name="Back to 127.0.0.1:9")
    expect(link).to_have_attribute("href", back)
    expect(page.get_by_role("link", name="Soon gone", exact=True)).to_have_count(0)

    # Opened after it ended: the same page and link.
    page = new_page()
    page.goto(session["url"])
    expect(heading(page)).to_have_text("Session ended")
    expect(page.get_by_role("link", name="Back to 127.0.0.1:9")).to_have_attribute("href", back)

    # Revoked while open: the next call says so, with the link.
    revoked = minted(session_org, ttl_seconds=600, return_url=back)
    page = new_page()
    page.goto(revoked["url"])
    expect(page.get_by_role("link", name="Soon gone", exact=True)).to_be_visible()
    r = session_org.client.delete(f"/v1/{session_org.org_id}/portal_session/{revoked['session_id']}")
    assert r.status_code == 204, r.text
    page.get_by_role("link", name="Event types", exact=True).click()
    expect(heading(page)).to_have_text("Session ended")
    expect(page.get_by_role("link", name="Back to 127.0.0.1:9")).to_have_attribute("href", back)
    assert httpx.get(engine.url + f"/v1/{session_org.org_id}/event_type/", timeout=HTTP_TIMEOUT,
                     headers={"Authorization": f"Bearer {revoked['token']}"}).status_code == 401
