"""Browser tests of the customer portal (issue 8): Debian's Chromium, driven
by Playwright, uses the page against a real `wrangler dev` and real local
receivers, and each test checks what a person sees, then what the API holds
afterwards. Every test saves a screenshot under tests/output/portal/.

Most tests open the page with a sign-in token (the page treats it exactly as
a portal session's token); the read-only, revoked-session and iframe tests
mint portal sessions with POST /v1/{org}/portal_session/.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone

import httpx
from playwright.sync_api import Page, expect
from standardwebhooks.webhooks import Webhook as StandardWebhook

from delivery_helpers import (CONVERSATION, KEY_EXPIRY, RESOURCE, conversation_event, get_delivery,
                              list_deliveries, parse_time, publish, resource_event, wait_for_state)
from harness import HTTP_TIMEOUT, WEBHOOK_TYPES, mint_token, new_tenant, token_claims
from portal_helpers import (EmbeddingSite, browser, engine, new_page, open_portal, org, page,  # noqa: F401
                            portal_session, portal_url, revoke_session, session_org)
from receiver import Receiver, Reply


SECRET = re.compile(r"^whsec_[A-Za-z0-9+/]{43}=$")


def notice(page: Page):
    """The page's live region, where every result and error is announced."""
    return page.locator("#notice")


def verify_standard(req, secret: str) -> dict:
    """Verifies a received webhook's Standard Webhooks signature with `secret`."""
    headers = {k.lower(): v for k, v in req.headers}
    return StandardWebhook(secret).verify(req.body, headers)


def destination(tenant, destination_id: str) -> httpx.Response:
    return tenant.client.get(tenant.destination_path(destination_id))


# --- item 2: destinations ---------------------------------------------------------------------

def test_lists_destinations_and_opens_one_by_name_or_url(page, engine, org):
    named, _ = org.create_destination(name="Orders", accepted_types=[CONVERSATION, RESOURCE],
                                      retry_attempts=4, timeout_seconds=7)
    unnamed, _ = org.create_destination(accepted_types=[KEY_EXPIRY])
    assert org.client.post(org.destination_path(unnamed), json={"is_active": False}).status_code == 204
    by_id = {d["id"]: d for d in org.list_destinations()}

    open_portal(page, portal_url(engine, org.token))
    # The token leaves the address bar at once; this tab keeps it for reloads.
    assert "token" not in page.url
    expect(page.get_by_role("heading", level=1)).to_have_text("Destinations")
    row = page.locator(f"tr[data-destination-id='{named}']")
    expect(row).to_contain_text("Orders")
    expect(row).to_contain_text(by_id[named]["url"])
    expect(row).to_contain_text(CONVERSATION)
    expect(row).to_contain_text(RESOURCE)
    expect(row).to_contain_text("Active")
    expect(row.locator("td[data-label=Retries]")).to_have_text("4")
    expect(row.locator("td[data-label=Timeout]")).to_have_text("7 s")
    other = page.locator(f"tr[data-destination-id='{unnamed}']")
    expect(other).to_contain_text("Paused")
    expect(other).to_contain_text("Unnamed destination")
    expect(other).to_contain_text(KEY_EXPIRY)

    row.get_by_role("link", name="Orders", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Orders")
    expect(page.locator(".settings")).to_contain_text(by_id[named]["url"])
    expect(page.locator(".settings")).to_contain_text(named)

    page.get_by_role("link", name="Destinations", exact=True).first.click()
    page.locator(f"tr[data-destination-id='{unnamed}'] td.url a").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Unnamed destination")
    expect(page.locator(".settings")).to_contain_text(by_id[unnamed]["url"])
    expect(page.locator(".settings")).to_contain_text("Paused")

    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Unnamed destination")
    assert "token" not in page.url


def test_creates_destination_and_shows_its_secret_once(page, engine, org):
    with Receiver() as rx:
        open_portal(page, portal_url(engine, org.token))
        page.get_by_role("button", name="Add destination").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Add a destination")
        page.get_by_label("URL").fill(rx.url)
        page.get_by_label("Name (optional)").fill("Billing")
        page.get_by_role("checkbox", name=RESOURCE).check()
        page.get_by_label("Retries").fill("4")
        page.get_by_label("Timeout (seconds)").fill("12")
        page.get_by_role("button", name="Create destination").click()

        secret_box = page.get_by_label("Signing secret", exact=True)
        expect(secret_box).to_have_text(SECRET)
        secret = secret_box.inner_text()
        expect(page.get_by_text("This secret will not be shown again.")).to_be_visible()
        expect(notice(page)).to_contain_text("Destination created")
        page.get_by_role("button", name="Copy secret").click()
        expect(notice(page)).to_contain_text("Secret copied")
        assert page.evaluate("navigator.clipboard.readText()") == secret

        [created] = org.list_destinations()
        assert (created["url"], created["name"], created["accepted_types"],
                created["retry_attempts"], created["timeout_seconds"], created["is_active"]) == \
            (rx.url, "Billing", [RESOURCE], 4, 12, True)

        page.get_by_role("button", name="I have stored the secret").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Billing")
        assert secret not in page.content()

        # The secret the page showed is the one that signs this destination's webhooks.
        publish(org, resource_event(org.org_id))
        [req] = rx.wait_for(1, timeout=20)
        assert verify_standard(req, secret)["type"] == RESOURCE


def test_create_shows_the_apis_validation_errors_in_plain_words(page, engine, org):
    open_portal(page, portal_url(engine, org.token), "#/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a destination")
    page.get_by_label("URL").fill("http://example.com/hooks")
    page.get_by_role("checkbox", name=CONVERSATION).check()
    page.get_by_role("button", name="Create destination").click()
    expect(notice(page)).to_contain_text("Some values were not accepted: URL: URL must use https")
    url_input = page.get_by_label("URL")
    expect(url_input).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-url-error")).to_have_text("URL must use https")
    assert org.list_destinations() == []


def test_edits_name_types_retries_and_timeout(page, engine, org):
    dest, _ = org.create_destination(name="Old name", accepted_types=[CONVERSATION])
    open_portal(page, portal_url(engine, org.token), f"#/d/{dest}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Old name")
    page.get_by_role("button", name="Edit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit destination")
    page.get_by_label("Name (optional)").fill("New name")
    page.get_by_role("checkbox", name=CONVERSATION).uncheck()
    page.get_by_role("checkbox", name=KEY_EXPIRY).check()
    page.get_by_role("checkbox", name=RESOURCE).check()
    page.get_by_label("Retries").fill("5")
    page.get_by_label("Timeout (seconds)").fill("30")
    page.get_by_role("button", name="Save changes").click()

    expect(notice(page)).to_contain_text("Changes saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text("New name")
    settings = page.locator(".settings")
    expect(settings).to_contain_text(KEY_EXPIRY)
    expect(settings).to_contain_text(RESOURCE)
    expect(settings).not_to_contain_text(CONVERSATION)
    expect(settings).to_contain_text("30 s")
    d = destination(org, dest).json()
    assert (d["name"], sorted(d["accepted_types"]), d["retry_attempts"], d["timeout_seconds"]) == \
        ("New name", sorted([KEY_EXPIRY, RESOURCE]), 5, 30)


def test_pauses_and_resumes(page, engine, org):
    with Receiver() as rx:
        dest, _ = org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
        open_portal(page, portal_url(engine, org.token), f"#/d/{dest}")
        page.get_by_role("button", name="Pause").click()
        expect(notice(page)).to_contain_text("Paused: this destination receives nothing")
        expect(page.locator(".settings")).to_contain_text("Paused")
        assert destination(org, dest).json()["is_active"] is False

        page.reload()
        expect(page.locator(".settings")).to_contain_text("Paused")
        page.get_by_role("button", name="Resume").click()
        expect(notice(page)).to_contain_text("Resumed")
        expect(page.locator(".settings")).to_contain_text("Active")
        assert destination(org, dest).json()["is_active"] is True


def test_rotates_the_secret_and_shows_when_dual_signing_ends(page, engine, org):
    with Receiver() as rx:
        dest, old_secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
        before = destination(org, dest).json()["secret_generated_at"]
        open_portal(page, portal_url(engine, org.token), f"#/d/{dest}")
        page.get_by_role("button", name="Rotate secret").click()
        dialog = page.get_by_role("dialog", name="Rotate the signing secret?")
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name="Rotate secret").click()

        secret_box = page.get_by_label("Signing secret", exact=True)
        expect(secret_box).to_have_text(SECRET)
        new_secret = secret_box.inner_text()
        assert new_secret != old_secret
        expect(page.get_by_text("This secret will not be shown again.")).to_be_visible()
        until = page.locator(".secret-panel time")
        expect(until).to_be_visible()
        stops_at = parse_time(until.get_attribute("datetime"))
        assert time.time() < stops_at < time.time() + 3600, until.get_attribute("datetime")
        expect(page.locator(".secret-panel")).to_contain_text("signed with both the old and the new secret")

        after = destination(org, dest).json()["secret_generated_at"]
        assert after != before
        publish(org, conversation_event(org.org_id))
        [req] = rx.wait_for(1, timeout=20)
        assert verify_standard(req, new_secret)["type"] == CONVERSATION

        # A second rotation within the hour is refused, in plain words.
        page.get_by_role("button", name="I have stored the secret").click()
        page.get_by_role("button", name="Rotate secret").click()
        page.get_by_role("dialog").get_by_role("button", name="Rotate secret").click()
        expect(notice(page)).to_contain_text("Refused: the secret was rotated less than")
        assert destination(org, dest).json()["secret_generated_at"] == after


def test_deletes_only_after_confirmation(page, engine, org):
    dest, _ = org.create_destination(name="Doomed")
    keep, _ = org.create_destination(name="Keeper")
    open_portal(page, portal_url(engine, org.token), f"#/d/{dest}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Doomed")

    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete “Doomed”?")
    expect(dialog).to_contain_text("cannot be undone")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert destination(org, dest).status_code == 200

    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete destination").click()
    expect(notice(page)).to_contain_text("Deleted Doomed")
    expect(page.get_by_role("heading", level=1)).to_have_text("Destinations")
    expect(page.locator(f"tr[data-destination-id='{keep}']")).to_be_visible()
    expect(page.locator(f"tr[data-destination-id='{dest}']")).to_have_count(0)
    assert destination(org, dest).status_code == 404


# --- item 2: deliveries -----------------------------------------------------------------------

def _log_with_one_failure(org, rx) -> tuple[str, str, list[str], str]:
    """A destination whose log holds one failed `agent-framework-resource-updated`
    delivery, then (a second later) eleven delivered conversation events.
    Returns (destination id, failed delivery id, delivered ids, a local time
    between the two)."""
    dest, _ = org.create_destination(url=rx.url, accepted_types=list(WEBHOOK_TYPES), retry_attempts=1)
    failed = publish(org, resource_event(org.org_id))["delivery_ids"][0]
    wait_for_state(org, dest, failed, "failed", timeout=30)
    created = parse_time(get_delivery(org, dest, failed)["created_at"])
    boundary = datetime.fromtimestamp(int(created) + 1, tz=timezone.utc)
    time.sleep(max(0.0, boundary.timestamp() - time.time()) + 0.2)
    delivered = [publish(org, conversation_event(org.org_id))["delivery_ids"][0] for _ in range(11)]
    for d in delivered:
        wait_for_state(org, dest, d, "success", timeout=30)
    return dest, failed, delivered, boundary.strftime("%Y-%m-%dT%H:%M:%S")


def _rows(page: Page):
    return page.locator("table.deliveries tbody tr")


def _row_ids(page: Page) -> list[str]:
    return [r.get_attribute("data-delivery-id") for r in _rows(page).all()]


def _filters(page: Page):
    return page.get_by_role("form", name="Filter and sort deliveries")


def _show(page: Page, **selects) -> None:
    """Sets the log's selects (`Event_type` for "Event type") and applies them."""
    form = _filters(page)
    for label, value in selects.items():
        form.get_by_label(label.replace("_", " "), exact=True).select_option(value)
    form.get_by_role("button", name="Show deliveries").click()


def test_delivery_log_filters_sorts_and_pages(page, engine, org):
    with Receiver([Reply(500), Reply(500)], default=Reply(200)) as rx:
        dest, failed, delivered, boundary = _log_with_one_failure(org, rx)
    open_portal(page, portal_url(engine, org.token), f"#/d/{dest}")

    # Newest first, 20 a page: all twelve, the failed one last.
    expect(_rows(page)).to_have_count(12)
    assert _row_ids(page) == list(reversed(delivered)) + [failed]
    last = page.locator(f"tr[data-delivery-id='{failed}']")
    expect(last.locator("td[data-label=Type]")).to_have_text(RESOURCE)
    expect(last.locator("td[data-label=State]")).to_have_text("Failed")
    expect(last.locator("td[data-label=Attempts]")).to_have_text("2")
    expect(last.locator("td[data-label=Created] time")).to_have_attribute(
        "datetime", get_delivery(org, dest, failed)["created_at"])
    first = page.locator(f"tr[data-delivery-id='{delivered[-1]}']")
    expect(first.locator("td[data-label=State]")).to_have_text("Delivered")
    expect(first.locator("td[data-label=Attempts]")).to_have_text("1")

    # State and status filters.
    _show(page, State="failed")
    expect(_rows(page)).to_have_count(1)
    assert _row_ids(page) == [failed]
    _show(page, State="", Status="success")
    expect(_rows(page)).to_have_count(11)
    _show(page, Status="failed")
    expect(_rows(page)).to_have_count(1)

    # Type filter.
    _show(page, Status="", Event_type=CONVERSATION)
    expect(_rows(page)).to_have_count(11)
    assert failed not in _row_ids(page)

    # Time range (the page's clock is UTC).
    _show(page, Event_type="")
    page.get_by_label("Created after").fill(boundary)
    _show(page)
    expect(_rows(page)).to_have_count(11)
    assert failed not in _row_ids(page)
    page.get_by_label("Created after").fill("")
    page.get_by_label("Created before").fill(boundary)
    _show(page)
    expect(_rows(page)).to_have_count(1)
    assert _row_ids(page) == [failed]
    page.get_by_label("Created before").fill("")

    # Sorting.
    _show(page, Sort="created_at")
    expect(_rows(page)).to_have_count(12)
    assert _row_ids(page) == [failed] + delivered
    # agent-framework-… sorts before conversation-….
    _show(page, Sort="type")
    expect(_rows(page).first).to_have_attribute("data-delivery-id", failed)
    _show(page, Sort="-type")
    expect(_rows(page).last).to_have_attribute("data-delivery-id", failed)

    # Paging: 10 a page over 12 deliveries, oldest first.
    _show(page, Sort="created_at", Per_page="10")
    expect(page.locator("table.deliveries caption")).to_contain_text("Page 1")
    expect(_rows(page)).to_have_count(10)
    assert _row_ids(page) == [failed] + delivered[:9]
    page.get_by_role("button", name="Next page").click()
    expect(page.locator("table.deliveries caption")).to_contain_text("Page 2")
    expect(_rows(page)).to_have_count(2)
    assert _row_ids(page) == delivered[9:]
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    page.get_by_role("button", name="Previous page").click()
    expect(page.locator("table.deliveries caption")).to_contain_text("Page 1")
    assert _row_ids(page) == [failed] + delivered[:9]
    expect(page.get_by_role("button", name="Previous page")).to_be_disabled()


def test_delivery_detail_shows_body_and_every_attempt_and_retries(page, engine, org):
    with Receiver([Reply(500, body=b"receiver says no"), Reply(503, body=b"still no")],
                  default=Reply(200)) as rx:
        dest, _ = org.create_destination(url=rx.url, accepted_types=[RESOURCE], retry_attempts=1)
        event = resource_event(org.org_id, "res-portal-detail")
        failed = publish(org, event)["delivery_ids"][0]
        record = wait_for_state(org, dest, failed, "failed", timeout=30)

        open_portal(page, portal_url(engine, org.token), f"#/d/{dest}")
        page.get_by_role("link", name=failed).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(failed)
        expect(page.locator(".settings").first).to_contain_text("Failed")
        body = page.get_by_label("Webhook body")
        assert json.loads(body.inner_text()) == event

        attempts = page.locator("li.attempt")
        expect(attempts).to_have_count(2)
        for item, recorded, code, answer in zip(attempts.all(), record["delivery_attempts"],
                                                 (500, 503), ("receiver says no", "still no")):
            expect(item.locator("time")).to_have_attribute("datetime", recorded["delivery_time"])
            expect(item).to_contain_text(f"Status code{code}")
            expect(item).to_contain_text(f"Duration{recorded['duration_ms']} ms")
            expect(item).to_contain_text(recorded["error"])
            item.get_by_text("Response body").click()
            expect(item.locator("pre")).to_have_text(answer)

        page.get_by_role("button", name="Retry delivery").click()
        expect(notice(page)).to_contain_text("Retry started")
        rx.wait_for(3, timeout=20)
        wait_for_state(org, dest, failed, "success", timeout=20)
        page.get_by_role("button", name="Refresh").click()
        expect(page.locator(".settings").first).to_contain_text("Delivered")
        expect(attempts).to_have_count(3)
        expect(page.get_by_role("button", name="Retry delivery")).to_have_count(0)
        assert rx.received()[2].header("webhook-id") == failed


def test_event_catalog_shows_description_schema_and_example(page, engine, org):
    r = org.client.get(f"/v1/{org.org_id}/event_type/")
    assert r.status_code == 200, (r.status_code, r.text)
    catalog = r.json()["event_types"]
    assert sorted(t["type"] for t in catalog if not t["operational"]) == sorted(WEBHOOK_TYPES)
    assert len([t for t in catalog if t["operational"]]) == 7

    open_portal(page, portal_url(engine, org.token))
    page.get_by_role("link", name="Event types").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Event types")
    for t in catalog:
        article = page.get_by_role("article", name=t["type"])
        expect(article).to_contain_text(t["description"])
        assert t["description"].strip()
        article.get_by_text("Example payload").click()
        article.get_by_text("JSON Schema").click()
        example, schema = article.locator("pre").all()
        assert json.loads(example.inner_text()) == t["example"]
        assert json.loads(schema.inner_text()) == t["schema"]
        assert t["example"]["type"] == t["type"]


def test_sends_a_test_event(page, engine, org):
    with Receiver() as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
        open_portal(page, portal_url(engine, org.token), f"#/d/{dest}")
        test_panel = page.get_by_role("region", name="Send a test event")
        test_panel.get_by_label("Event type").select_option(KEY_EXPIRY)
        test_panel.get_by_role("button", name="Send test event").click()
        expect(notice(page)).to_contain_text("Test event sent: delivery ")
        delivery_id = page.locator("#notice").inner_text().split("delivery ")[1].strip(" .\n")

        [req] = rx.wait_for(1, timeout=20)
        assert verify_standard(req, secret)["type"] == KEY_EXPIRY
        assert req.header("webhook-id") == delivery_id
        wait_for_state(org, dest, delivery_id, "success", timeout=20)
        page.get_by_role("button", name="Refresh").first.click()
        row = page.locator(f"tr[data-delivery-id='{delivery_id}']")
        expect(row.locator("td[data-label=Type]")).to_have_text(KEY_EXPIRY)
        expect(row.locator("td[data-label=State]")).to_have_text("Delivered")
        assert [d["id"] for d in list_deliveries(org, dest)["webhook_deliveries"]] == [delivery_id]


def test_api_errors_in_plain_words_rate_limit(page, worker):
    """The shared Worker keeps the real limits: 5 delivery queries a minute."""
    tenant = new_tenant(worker)
    try:
        dest, _ = tenant.create_destination()
        open_portal(page, portal_url(worker, tenant.token), f"#/d/{dest}")
        expect(page.locator("table.deliveries, .log .empty")).to_be_visible()
        for _ in range(6):
            page.get_by_role("button", name="Show deliveries").click()
            page.wait_for_timeout(300)
        expect(notice(page)).to_have_text(re.compile(r"Too many requests\. Wait \d+ seconds? and try again\."))
    finally:
        tenant.close()


# --- item 3: embedding, themes, keyboard, small screens ---------------------------------------

def too_wide(page: Page, width: int) -> list[str]:
    """The elements that reach past `width` CSS pixels (none when the page fits)."""
    return page.evaluate("""width => document.documentElement.scrollWidth <= width ? [] :
        [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 0.5)
            .map(e => `${e.tagName.toLowerCase()}.${e.className}: ${Math.round(e.getBoundingClientRect().right)}`)""",
                         width)


def test_keyboard_screen_reader_narrow_screen_and_dark_scheme(new_page, engine, org):
    dest, _ = org.create_destination(name="Mobile", accepted_types=list(WEBHOOK_TYPES))
    page = new_page(viewport={"width": 375, "height": 800}, color_scheme="dark")
    open_portal(page, portal_url(engine, org.token))
    expect(page.get_by_role("link", name="Mobile", exact=True)).to_be_visible()
    # Nothing is wider than the screen.
    assert too_wide(page, 375) == []
    # Dark scheme followed.
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert sum(int(x) for x in bg[bg.index("(") + 1:-1].split(",")[:3]) < 150, bg
    # A live region for results.
    expect(page.locator("[role=status][aria-live=polite]")).to_have_count(1)

    # Keyboard only: skip link first, then the navigation, then the content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Destinations", exact=True)).to_be_focused()
    page.get_by_role("link", name="Mobile", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mobile")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    expect(page.get_by_role("heading", name="Deliveries")).to_be_visible()
    assert too_wide(page, 375) == []
    # Every form control has a name a screen reader can speak.
    unnamed = page.evaluate("""() => [...document.querySelectorAll('input, select, button')]
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                      && !el.textContent.trim()).map(el => el.outerHTML)""")
    assert unnamed == []
    # Pause with the keyboard; the result is announced.
    page.get_by_role("button", name="Pause").focus()
    page.keyboard.press("Enter")
    expect(notice(page)).to_contain_text("Paused")
    assert destination(org, dest).json()["is_active"] is False
    # The delete dialog opens on Cancel and closes with Escape.
    page.get_by_role("button", name="Delete").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog").get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert destination(org, dest).status_code == 200


# --- sessions: read-only, expired, revoked, framed --------------------------------------------

def test_read_only_session_refuses_every_change(page, engine, session_org):
    dest, _ = session_org.create_destination(name="Look only", accepted_types=[CONVERSATION])
    before = destination(session_org, dest).json()
    session = portal_session(session_org, ttl_seconds=600, read_only=True)
    open_portal(page, session["url"])
    expect(page.get_by_text("Read-only", exact=True)).to_be_visible()

    # A change button stays reachable but is marked disabled; pressing it says why.
    page.get_by_role("button", name="Add destination").press("Enter")
    expect(notice(page)).to_contain_text("Refused: this session is read-only")
    expect(page.get_by_role("heading", level=1)).to_have_text("Destinations")

    page.get_by_role("link", name="Look only", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Look only")
    for name in ("Edit", "Pause", "Rotate secret", "Delete", "Send test event"):
        page.evaluate("document.querySelector('.notice-close')?.click()")
        expect(notice(page)).to_have_text("")
        button = page.get_by_role("button", name=name, exact=True)
        expect(button).to_have_attribute("aria-disabled", "true")
        button.press("Enter")
        expect(notice(page)).to_contain_text("Refused: this session is read-only")
        expect(page.get_by_role("dialog")).to_have_count(0)
    # Reading still works.
    expect(page.get_by_role("heading", name="Deliveries")).to_be_visible()

    assert destination(session_org, dest).json() == before
    # The server refuses the same changes with this token.
    auth = {"Authorization": f"Bearer {session['token']}"}
    r = httpx.post(f"{engine.url}/v1/{session_org.org_id}/webhook_destination/{dest}",
                   json={"is_active": False}, headers=auth, timeout=HTTP_TIMEOUT)
    assert r.status_code == 403, r.text
    r = httpx.delete(f"{engine.url}/v1/{session_org.org_id}/webhook_destination/{dest}",
                     headers=auth, timeout=HTTP_TIMEOUT)
    assert r.status_code == 403, r.text


def test_expired_token_shows_that_the_session_ended(new_page, engine, org):
    org.create_destination(name="Hidden", exact=True)
    claims = token_claims(org.token)
    expired = mint_token(engine.jwt_secret, {**claims, "exp": int(time.time()) - 60})
    page = new_page()
    page.goto(portal_url(engine, expired))
    expect(page.get_by_role("heading", level=1)).to_have_text("Session ended")
    expect(page.get_by_role("alert")).to_contain_text("This session has expired")
    expect(page.get_by_text("Hidden")).to_have_count(0)
    assert "token" not in page.url

    # A session that expires while the page is open ends there too.
    soon = mint_token(engine.jwt_secret, {**claims, "exp": int(time.time()) + 4})
    page = new_page()
    open_portal(page, portal_url(engine, soon))
    expect(page.get_by_role("link", name="Hidden", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Session ended", timeout=15_000)
    expect(page.get_by_role("link", name="Hidden", exact=True)).to_have_count(0)


def test_revoked_session_stops_the_page(page, engine, session_org):
    session_org.create_destination(name="Revocable", exact=True)
    session = portal_session(session_org, ttl_seconds=600)
    open_portal(page, session["url"])
    expect(page.get_by_role("link", name="Revocable", exact=True)).to_be_visible()
    revoke_session(session_org, session["session_id"])

    # A revoked token answers 401 within 60 s; the page then says so and stops.
    # Each reload of the tab calls the API again with the token it kept.
    deadline = time.monotonic() + 75
    ended = page.get_by_role("heading", name="Session ended")
    listed = page.get_by_role("link", name="Revocable", exact=True)
    while True:
        page.reload()
        expect(listed.or_(ended)).to_be_visible()
        if ended.is_visible():
            break
        assert time.monotonic() < deadline, "the page never noticed the revoked session"
        page.wait_for_timeout(2000)
    expect(page.get_by_role("alert")).to_contain_text("expired or was revoked")
    expect(page.get_by_role("link", name="Revocable", exact=True)).to_have_count(0)
    # The tab forgets the token: a reload has no session.
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("No session")


def test_iframe_on_an_allowed_origin_works_and_elsewhere_is_refused(page, engine, session_org):
    session_org.create_destination(name="Framed", exact=True)
    with EmbeddingSite() as allowed, EmbeddingSite() as other:
        session = portal_session(session_org, ttl_seconds=600, allowed_origins=[allowed.origin])
        allowed.src = other.src = session["url"]
        api_calls: list[str] = []
        page.on("request", lambda r: api_calls.append(r.url) if "/v1/" in r.url else None)

        page.goto(allowed.origin + "/")
        frame = page.frame_locator("iframe[title='Webhook portal']")
        expect(frame.get_by_role("heading", level=1)).to_have_text("Destinations")
        expect(frame.get_by_role("link", name="Framed", exact=True)).to_be_visible()
        frame.get_by_role("link", name="Framed", exact=True).click()
        expect(frame.get_by_role("heading", level=1)).to_have_text("Framed")
        assert api_calls, "the framed portal made no API call"

        # Calls the allowed frame starts after its heading shows are its own.
        page.wait_for_load_state("networkidle")
        page.goto("about:blank")
        api_calls.clear()
        page.goto(other.origin + "/")
        expect(page.get_by_role("heading", name="Our dashboard")).to_be_visible()
        page.wait_for_timeout(3000)
        frame = page.frame_locator("iframe[title='Webhook portal']")
        expect(frame.get_by_role("link", name="Framed", exact=True)).to_have_count(0)
        expect(frame.get_by_text("Destinations")).to_have_count(0)
        assert api_calls == [], f"the refused frame called the API: {api_calls}"
