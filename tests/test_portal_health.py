"""Browser tests of a destination's health in the customer portal (issue 14
item 6, issue 13 item 4): the state in plain words, the chart of deliveries
per hour with success rate and latency, "Recover since…" (its dry-run count,
then its progress, and what the receiver really got), skipped deliveries, a
destination the health ladder disabled, the organization's operational
destinations under their own heading, and the per-destination rate limit.

Debian's Chromium, driven by Playwright, against a real `wrangler dev` and
real local receivers. Every page is opened with a minted portal session, so
each test also shows that a session reaches the endpoints it uses. Each test
saves a screenshot under tests/output/portal/.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import Page, expect

from delivery_helpers import (CONVERSATION, ENGINE_VARS, RESOURCE, get_delivery, list_deliveries, publish,
                              resource_event, verify_webhooks, wait_for_state)
from harness import ALL_PERMISSIONS, new_tenant
from portal_helpers import (CREATE_PORTAL_SESSION, SCREENSHOTS, browser, engine, new_page, page,  # noqa: F401
                            portal_session, session_org)
from receiver import Receiver, Reply

OPERATIONAL = ["destination.failing", "destination.disabled", "destination.recovered",
               "delivery.exhausted", "destination.created", "destination.updated",
               "destination.deleted"]


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def notice(page: Page):
    return page.locator("#notice")


def open_session(page: Page, tenant, route: str = "") -> None:
    """Opens the portal with a freshly minted session, then goes to `route`."""
    session = portal_session(tenant, ttl_seconds=900)
    page.goto(session["url"])
    expect(heading(page)).to_be_visible()
    if route:
        page.evaluate("route => { location.hash = route }", route)


def snapshot(page: Page, request, suffix: str) -> None:
    """A screenshot of the page as it stands, beside the one saved when the test ends."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}-{suffix}.png"), full_page=True)


def region(page: Page, name: str):
    return page.get_by_role("region", name=name, exact=True)


def bar_counts(page: Page) -> dict[str, int]:
    """The chart's bars summed by state, as drawn."""
    return page.evaluate("""() => {
        const out = {};
        for (const r of document.querySelectorAll('svg.chart-svg rect.bar')) {
            out[r.dataset.state] = (out[r.dataset.state] || 0) + Number(r.dataset.count);
        }
        return out;
    }""")


def pause(tenant, dest: str, active: bool = False) -> None:
    r = tenant.client.post(tenant.destination_path(dest), json={"is_active": active})
    assert r.status_code == 204, (r.status_code, r.text)


def read(tenant, dest: str, kind: str = "webhook_destination") -> dict:
    r = tenant.client.get(f"/v1/{tenant.org_id}/{kind}/{dest}")
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


# --- the chart ---------------------------------------------------------------------------------

def test_health_chart_draws_the_published_deliveries_with_success_rate_and_latency(
        page, new_page, engine, session_org):
    with Receiver([Reply(500), Reply(500)], default=Reply(200)) as rx:
        dest, _ = session_org.create_destination(url=rx.url, accepted_types=[RESOURCE], retry_attempts=1,
                                                 name="Charted")
        failed = publish(session_org, resource_event(session_org.org_id))["delivery_ids"][0]
        wait_for_state(session_org, dest, failed, "failed", timeout=30)
        delivered = [publish(session_org, resource_event(session_org.org_id))["delivery_ids"][0]
                     for _ in range(4)]
        for d in delivered:
            wait_for_state(session_org, dest, d, "success", timeout=30)
    pause(session_org, dest)
    publish(session_org, resource_event(session_org.org_id, "kept"))
    r = session_org.client.get(session_org.destination_path(dest, "/stats"))
    assert r.status_code == 200, r.text
    stats = r.json()
    assert (stats["deliveries"]["success"], stats["deliveries"]["failed"], stats["deliveries"]["skipped"]) == (4, 1, 1)

    open_session(page, session_org, f"#/d/{dest}")
    expect(heading(page)).to_have_text("Charted")
    panel = region(page, "Activity by hour")
    chart = panel.get_by_role("img", name="Deliveries per hour by state")
    expect(chart).to_be_visible()
    expect(panel.locator("rect.bar-success").first).to_be_visible()
    # One bar part per state that has deliveries, summing to what was published.
    assert bar_counts(page) == {"success": 4, "failed": 1, "skipped": 1}
    assert int(chart.get_attribute("data-hours")) >= 24
    # The scale tops at the next 1, 2 or 5 × 10^k above the busiest hour.
    busiest = max(sum(h["deliveries"].values()) for h in stats["series"])
    assert chart.get_attribute("data-max") == str(next(s for s in (1, 2, 5, 10, 20) if s >= busiest))
    # 4 delivered of 5 finished (the skipped one is not finished).
    expect(panel.locator("[data-figure=success-rate]")).to_have_text("80 %")
    expect(panel.locator("[data-figure=deliveries]")).to_have_text("6")
    expect(panel.locator("[data-figure=attempts]")).to_contain_text(str(stats["attempts"]))
    expect(panel.locator("[data-figure=p50]")).to_have_text(f"≤ {stats['latency']['p50_ms']} ms")
    expect(panel.locator("[data-figure=p99]")).to_have_text(re.compile(r"^≤ \d+(\.\d)? (ms|s)$"))
    legend = panel.get_by_role("list", name="Deliveries by state in the range")
    expect(legend.locator("li[data-state=success]")).to_have_text("Delivered: 4")
    expect(legend.locator("li[data-state=skipped]")).to_have_text("Skipped: 1")
    # The same figures as a table, for those who cannot see the chart.
    panel.get_by_text("Deliveries per hour as a table").click()
    rows = panel.locator("table.hours tbody tr")
    expect(rows).to_have_count(len(stats["series"]))
    last = stats["series"][-1]["deliveries"]
    expect(rows.last.locator("td").nth(0)).to_have_text(str(last["success"]))
    expect(rows.last.locator("td").nth(4)).to_have_text(str(last["skipped"]))

    # Another range: the same deliveries over 7 days of hours.
    panel.get_by_label("Range", exact=True).select_option(label="Last 7 days")
    expect(chart).to_have_attribute("data-hours", re.compile(r"^(168|169)$"))
    assert bar_counts(page) == {"success": 4, "failed": 1, "skipped": 1}

    # Dark, on a phone: the bars wear the dark scheme's colours and nothing is wider than the screen.
    phone = new_page(viewport={"width": 375, "height": 800}, color_scheme="dark")
    open_session(phone, session_org, f"#/d/{dest}")
    expect(phone.locator("svg.chart-svg rect.bar-success").first).to_be_visible()
    fill = phone.evaluate("() => getComputedStyle(document.querySelector('rect.bar-success')).fill")
    ok = phone.evaluate("() => getComputedStyle(document.documentElement).getPropertyValue('--ok').trim()")
    assert (fill, ok) == ("rgb(127, 214, 154)", "#7fd69a"), (fill, ok)
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 375


# --- recover since… ------------------------------------------------------------------------------

def test_recover_counts_first_then_shows_progress_until_done_and_the_receiver_gets_them(
        page, engine, session_org, request):
    with Receiver() as rx:
        dest, secret = session_org.create_destination(url=rx.url, accepted_types=[RESOURCE], name="Recovered")
        pause(session_org, dest)
        for n in range(3):
            assert publish(session_org, resource_event(session_org.org_id, f"missed-{n}"))["delivery_ids"] == []
        skipped = [d["id"] for d in list_deliveries(session_org, dest, state="skipped")["webhook_deliveries"]]
        assert len(skipped) == 3
        pause(session_org, dest, active=True)

        open_session(page, session_org, f"#/d/{dest}")
        expect(heading(page)).to_have_text("Recovered")
        panel = region(page, "Recover since…")
        # Older than 14 days: the API's 422, in plain words next to the field.
        panel.get_by_label("Since").fill(
            (datetime.now(timezone.utc) - timedelta(days=15)).strftime("%Y-%m-%dT%H:%M"))
        panel.get_by_role("button", name="Count deliveries").click()
        expect(panel.get_by_role("alert")).to_have_text(
            "Deliveries older than 14 days cannot be recovered: choose a “since” within the last 14 days.")
        expect(panel.get_by_label("Since")).to_have_attribute("aria-invalid", "true")

        panel.get_by_label("Since").fill(
            (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
        panel.get_by_role("button", name="Count deliveries").click()
        expect(panel.get_by_test_id("recover-count")).to_have_text("3 deliveries will be sent again.")
        rx.assert_quiet(1, 0)  # a dry run sends nothing
        snapshot(page, request, "counted")

        panel.get_by_role("button", name="Send 3 again").click()
        expect(panel.get_by_test_id("recover-progress")).to_have_text(
            "Done: 3 of 3 delivered, 0 failed.", timeout=40_000)
        expect(panel.locator("progress")).to_have_attribute("value", "3")
        got = rx.wait_for(3, timeout=5)
        assert sorted(q.header("webhook-id") for q in got) == sorted(skipped), "sent again with their own ids"
        verify_webhooks(got, secret)
        # The log, reloaded when the recovery finished, shows them delivered.
        for d in skipped:
            expect(page.locator(f"tr[data-delivery-id='{d}'] td[data-label=State]")).to_have_text("Delivered")


def test_a_second_recovery_while_one_runs_is_refused_in_plain_words(page, engine, session_org):
    with Receiver(default=Reply(200, delay=4)) as rx:
        dest, _ = session_org.create_destination(url=rx.url, accepted_types=[RESOURCE], name="Busy")
        pause(session_org, dest)
        for _ in range(8):
            publish(session_org, resource_event(session_org.org_id))
        time.sleep(0.5)
        between = datetime.now(timezone.utc)
        time.sleep(0.5)
        for _ in range(2):
            publish(session_org, resource_event(session_org.org_id))
        pause(session_org, dest, active=True)
        # A recovery of the first 8, slow to finish (the receiver takes 4 s each).
        r = session_org.client.post(session_org.destination_path(dest, "/recover"), json={
            "since": (between - timedelta(hours=1)).isoformat(), "until": between.isoformat()})
        assert r.status_code == 202, r.text
        assert r.json()["count"] == 8

        open_session(page, session_org, f"#/d/{dest}")
        panel = region(page, "Recover since…")
        panel.get_by_role("button", name="Count deliveries").click()
        # The 2 still skipped count (the dry run counts even while one runs) ...
        expect(panel.get_by_test_id("recover-count")).to_have_text("2 deliveries will be sent again.")
        panel.get_by_role("button", name="Send 2 again").click()
        # ... but a second recovery does not start.
        expect(panel.get_by_role("alert")).to_have_text(
            "A recovery of this destination is still running, and only one runs at a time. "
            "Wait until it is done, then start this one.")
        expect(notice(page)).to_contain_text("still running")
        assert len(list_deliveries(session_org, dest, state="skipped")["webhook_deliveries"]) == 2
        rx.wait_for(1, timeout=20)


# --- skipped deliveries --------------------------------------------------------------------------

def test_a_delivery_published_while_paused_reads_skipped_not_failed(page, engine, session_org):
    with Receiver() as rx:
        dest, _ = session_org.create_destination(url=rx.url, accepted_types=[RESOURCE], name="Paused")
        open_session(page, session_org, f"#/d/{dest}")
        expect(heading(page)).to_have_text("Paused")
        page.get_by_role("group", name="Destination actions").get_by_role("button", name="Pause").click()
        expect(notice(page)).to_contain_text("Events published meanwhile are kept as skipped.")
        health = region(page, "Health")
        expect(health).to_contain_text("Paused by you: new events are kept as skipped and are not sent.")
        expect(health.locator("dd").first).to_have_text("none: paused by you")
        assert read(session_org, dest)["is_active"] is False

        event = resource_event(session_org.org_id, "while-paused")
        assert publish(session_org, event)["delivery_ids"] == []
        [kept] = list_deliveries(session_org, dest)["webhook_deliveries"]
        assert (kept["state"], kept["status"]) == ("skipped", "failed")

        log = page.get_by_role("form", name="Filter and sort deliveries")
        log.get_by_role("button", name="Show deliveries").click()
        row = page.locator(f"tr[data-delivery-id='{kept['id']}']")
        expect(row.locator("td[data-label=State]")).to_have_text("Skipped")
        expect(row.locator(".badge")).to_have_class(re.compile(r"\bbadge-skipped\b"))
        # The state filter has a "Skipped" option, apart from "Failed".
        log.get_by_label("State", exact=True).select_option("failed")
        log.get_by_role("button", name="Show deliveries").click()
        expect(page.get_by_text("No deliveries match.")).to_be_visible()
        log.get_by_label("State", exact=True).select_option(label="Skipped")
        log.get_by_role("button", name="Show deliveries").click()
        expect(page.locator("table.deliveries tbody tr")).to_have_count(1)

        row.get_by_role("link").click()
        expect(heading(page)).to_contain_text(kept["id"])
        expect(page.locator(".settings").first).to_contain_text("Skipped")
        expect(page.get_by_test_id("skipped-note")).to_contain_text("published while this destination was paused")
        expect(page.get_by_text("Never attempted: it was skipped.")).to_be_visible()
        expect(page.get_by_role("button", name="Retry delivery")).to_have_count(0)
        rx.assert_quiet(1, 0)


# --- a destination the health ladder disabled ----------------------------------------------------

LADDER_VARS = {
    **ENGINE_VARS,
    "EDGEHOOK_RETRY_SCHEDULE_SECONDS": "0.3",
    "EDGEHOOK_DISABLE_AFTER_SECONDS": "6",
    "EDGEHOOK_DISABLE_AFTER_FAILURES": "3",
}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_destination_disabled_for_failing_reads_so_and_can_be_re_enabled(page, make_worker, request):
    w = make_worker(vars=LADDER_VARS)
    t = new_tenant(w, permissions=ALL_PERMISSIONS + (CREATE_PORTAL_SESSION,))
    try:
        with Receiver(default=Reply(500, body=b"down")) as rx, Receiver() as ops_rx:
            r = t.client.post(f"/v1/{t.org_id}/operational_destination/", json={
                "url": ops_rx.url, "name": "On call", "accepted_types": ["destination.failing", "destination.disabled"]})
            assert r.status_code == 201, r.text
            dest, _ = t.create_destination(url=rx.url, accepted_types=[RESOURCE], retry_attempts=1, name="Flaky")
            deadline = time.monotonic() + 60
            while (d := read(t, dest))["is_active"] and time.monotonic() < deadline:
                publish(t, resource_event(t.org_id))
                time.sleep(0.4)
            assert (d["is_active"], d["disabled_reason"]) == (False, "failing"), d
            told = {json.loads(q.body)["type"]: json.loads(q.body) for q in ops_rx.wait_for(4, timeout=20)}
            assert told["destination.failing"]["percent"] == 90 and "destination.disabled" in told

            open_session(page, t)
            row = page.locator(f"tr[data-destination-id='{dest}']")
            expect(row.locator("td[data-label=Status]")).to_have_text("Disabled: failing")
            row.get_by_role("link", name="Flaky", exact=True).click()
            expect(heading(page)).to_have_text("Flaky")
            health = region(page, "Health")
            # How long it failed, from when its deliveries started failing.
            expect(health.locator(".health-state")).to_have_text(re.compile(
                r"Disabled: failing Disabled by edgehook after failing for [67] seconds: its deliveries only failed"))
            expect(health).to_contain_text("failing: its deliveries kept failing")
            disabled_at = health.locator("div", has=page.locator("dt", has_text="Disabled at")).locator("time")
            expect(disabled_at).to_have_attribute("datetime", d["disabled_at"])
            # The last warning, as the destination's stats tell it.
            warning = health.get_by_test_id("last-warning")
            expect(warning).to_contain_text("90 % of the time before disabling")
            expect(warning).to_contain_text("last error “HTTP status 500”")
            streak = t.client.get(t.destination_path(dest, "/stats")).json()["health"]
            expect(warning.locator("time").first).to_have_attribute("datetime", streak["last_warning_at"])
            # The chart shows the failures that disabled it.
            expect(region(page, "Activity by hour").locator("rect.bar-failed").first).to_be_visible()
            assert bar_counts(page).get("failed", 0) >= 3
            snapshot(page, request, "disabled")

            rx.set_script([], default=Reply(200))
            page.get_by_role("group", name="Destination actions").get_by_role("button", name="Re-enable").click()
            expect(notice(page)).to_contain_text("Resumed")
            expect(health).to_contain_text("Events are delivered as they are published.")
            d = read(t, dest)
            assert (d["is_active"], d["disabled_reason"], d["disabled_at"]) == (True, None, None)
    finally:
        t.close()


# --- operational destinations --------------------------------------------------------------------

def test_operational_destinations_have_their_own_heading_list_form_and_page(
        page, engine, session_org, receiver, request):
    ops = f"/v1/{session_org.org_id}/operational_destination/"
    r = session_org.client.post(ops, json={"url": receiver.url + "/first", "name": "Pager",
                                           "accepted_types": ["destination.disabled"]})
    assert r.status_code == 201, r.text
    first = r.json()["webhook_destination_id"]
    webhook, _ = session_org.create_destination(name="Orders", accepted_types=[CONVERSATION])

    open_session(page, session_org)
    section = region(page, "Operational destinations")
    expect(section.get_by_role("heading", level=2)).to_have_text("Operational destinations")
    expect(section.locator(f"tr[data-destination-id='{first}']")).to_contain_text("Pager")
    expect(section.locator(f"tr[data-destination-id='{webhook}']")).to_have_count(0)
    expect(region(page, "Destinations").locator(f"tr[data-destination-id='{first}']")).to_have_count(0)
    snapshot(page, request, "list")

    # Create one through the page: only edgehook's own events are offered.
    section.get_by_role("button", name="Add operational destination").click()
    expect(heading(page)).to_have_text("Add an operational destination")
    for t in OPERATIONAL:
        expect(page.get_by_role("checkbox", name=t, exact=True)).to_be_visible()
    expect(page.get_by_role("checkbox", name=CONVERSATION)).to_have_count(0)
    page.get_by_label("URL").fill(receiver.url + "/second")
    page.get_by_label("Name (optional)").fill("Alerts")
    page.get_by_role("checkbox", name="destination.failing", exact=True).check()
    page.get_by_role("checkbox", name="delivery.exhausted", exact=True).check()
    page.get_by_role("button", name="Create destination").click()
    expect(page.get_by_label("Signing secret", exact=True)).to_have_text(re.compile(r"^whsec_"))
    page.get_by_role("button", name="I have stored the secret").click()
    expect(heading(page)).to_have_text("Alerts")
    expect(page.locator(".settings").first).to_contain_text("Operational: edgehook's own events")
    listed = {d["name"]: d for d in session_org.client.get(ops).json()["webhook_destinations"]}
    assert sorted(listed["Alerts"]["accepted_types"]) == ["delivery.exhausted", "destination.failing"]
    second = listed["Alerts"]["id"]
    assert page.url.endswith(f"#/o/{second}")
    # Its page has its log, its activity and recovery, read from its own paths.
    expect(page.get_by_role("heading", name="Deliveries", exact=True)).to_be_visible()
    expect(region(page, "Activity by hour").locator("[data-figure=deliveries]")).to_have_text("0")
    recover = region(page, "Recover since…")
    recover.get_by_role("button", name="Count deliveries").click()
    expect(recover.get_by_test_id("recover-count")).to_have_text(
        "No delivery matches: nothing would be sent again.")

    # The same edit view.
    page.get_by_role("button", name="Edit").click()
    expect(heading(page)).to_have_text("Edit operational destination")
    page.get_by_role("checkbox", name="destination.recovered", exact=True).check()
    page.get_by_role("button", name="Save changes").click()
    expect(notice(page)).to_contain_text("Changes saved.")
    assert "destination.recovered" in read(session_org, second, "operational_destination")["accepted_types"]

    # The webhook form offers only the platform's events.
    page.evaluate("() => { location.hash = '#/new' }")
    expect(heading(page)).to_have_text("Add a destination")
    expect(page.get_by_role("checkbox", name=CONVERSATION)).to_be_visible()
    expect(page.get_by_role("checkbox", name="destination.failing")).to_have_count(0)


# --- the rate limit ------------------------------------------------------------------------------

def test_max_per_second_is_shown_edited_refused_in_plain_words_and_read_back(page, engine, session_org):
    dest, _ = session_org.create_destination(name="Throttled", accepted_types=[CONVERSATION], max_per_second=7)
    open_session(page, session_org)
    expect(page.locator(f"tr[data-destination-id='{dest}'] td[data-label='Rate limit']")).to_have_text("7 a second")
    page.get_by_role("link", name="Throttled", exact=True).click()
    expect(page.locator(".settings").first).to_contain_text("Rate limit7 a second")

    page.get_by_role("group", name="Destination actions").get_by_role("button", name="Edit").click()
    field = page.get_by_label("Webhooks per second (optional)")
    expect(field).to_have_value("7")
    field.fill("1001")
    page.get_by_role("button", name="Save changes").click()
    expect(notice(page)).to_contain_text("Some values were not accepted: Webhooks per second:")
    expect(field).to_have_attribute("aria-invalid", "true")
    assert read(session_org, dest)["max_per_second"] == 7

    field.fill("25")
    page.get_by_role("button", name="Save changes").click()
    expect(notice(page)).to_contain_text("Changes saved.")
    expect(page.locator(".settings").first).to_contain_text("Rate limit25 a second")
    assert read(session_org, dest)["max_per_second"] == 25

    page.get_by_role("group", name="Destination actions").get_by_role("button", name="Edit").click()
    page.get_by_label("Webhooks per second (optional)").fill("")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".settings").first).to_contain_text("Rate limitno limit")
    assert read(session_org, dest)["max_per_second"] is None

    # Create with a limit.
    page.evaluate("() => { location.hash = '#/new' }")
    page.get_by_label("URL").fill("https://hooks.example.com/limited")
    page.get_by_role("checkbox", name=CONVERSATION).check()
    page.get_by_label("Webhooks per second (optional)").fill("3")
    page.get_by_role("button", name="Create destination").click()
    page.get_by_role("button", name="I have stored the secret").click()
    created = [d for d in session_org.list_destinations() if d["url"] == "https://hooks.example.com/limited"]
    assert [d["max_per_second"] for d in created] == [3]


def test_an_ed25519_destination_is_created_in_the_form_and_shows_its_public_keys(page, engine, session_org, request):
    open_session(page, session_org, "#/new")
    page.get_by_label("URL").fill("https://hooks.example.com/signed")
    page.get_by_role("checkbox", name=CONVERSATION).check()
    page.get_by_label("Signature").select_option("ed25519")
    page.get_by_role("button", name="Create destination").click()
    page.get_by_role("button", name="I have stored the secret").click()
    [d] = [d for d in session_org.list_destinations() if d["url"] == "https://hooks.example.com/signed"]
    assert d["signing"] == "ed25519" and d["public_key"].startswith("whpk_"), d
    expect(page.get_by_test_id("public-key")).to_have_text(d["public_key"])
    expect(page.locator(".settings").first).to_contain_text("Ed25519 in webhook-signature")
    snapshot(page, request, "created")

    page.get_by_role("button", name="Rotate secret").click()
    page.get_by_role("dialog", name="Rotate the signing secret?").get_by_role("button", name="Rotate secret").click()
    new_key = page.get_by_test_id("new-public-key")
    expect(new_key).to_have_text(re.compile(r"^whpk_"))
    rotated = read(session_org, d["id"])["public_key"]
    assert rotated != d["public_key"]
    expect(new_key).to_have_text(rotated)
    page.get_by_role("button", name="I have stored the secret").click()
    expect(page.get_by_test_id("public-key")).to_have_text(rotated)
    # An HMAC destination shows no public key.
    plain, _ = session_org.create_destination(accepted_types=[CONVERSATION])
    page.evaluate("route => { location.hash = route }", f"#/d/{plain}")
    expect(page.locator(".settings").first).to_contain_text("HMAC-SHA256 with the secret")
    expect(page.get_by_test_id("public-key")).to_have_count(0)
