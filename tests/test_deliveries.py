"""End-to-end tests of the delivery records: `GET …/delivery` with every
filter (status, state, type, created_after, created_before), every sort key
in both directions and several at once, limit bounds, paging with
continuation_token while new deliveries arrive, bad parameters, unknown and
foreign destinations; `GET …/delivery/{id}`; and the manual retry of a failed
delivery.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from delivery_helpers import (CONVERSATION, KEY_EXPIRY, RESOURCE, conversation_event,  # noqa: F401
                              deliveries_path, engine, get_delivery, key_expiry_event,
                              list_deliveries, org, parse_time, publish, resource_event,
                              shared_engine, verify_webhooks, wait_for_state)
from harness import ALL_PERMISSIONS, GET_DELIVERIES, UPDATE_DESTINATION, new_tenant, new_user
from receiver import Receiver, Reply
from schema import assert_response_valid, seed_spec

SEED_PATH = "/v1/{organization}/webhook_destination/{webhook_destination_id}/delivery"


@dataclass
class History:
    """One destination with nine finished deliveries: six delivered, then three failed."""

    tenant: object
    destination_id: str
    receiver: Receiver
    published: list[tuple[str, str]]  # (delivery id, type), in publish order
    records: dict[str, dict]

    @property
    def ids(self) -> list[str]:
        return [i for i, _ in self.published]

    def query(self, **params) -> dict:
        return list_deliveries(self.tenant, self.destination_id, **params)

    def query_ids(self, **params) -> list[str]:
        body = self.query(**params)
        assert body["has_more"] is False, body
        return [d["id"] for d in body["webhook_deliveries"]]


EVENTS = {CONVERSATION: conversation_event, RESOURCE: resource_event, KEY_EXPIRY: key_expiry_event}


@pytest.fixture(scope="module")
def history():
    engine = shared_engine()
    tenant = new_tenant(engine)
    rx = Receiver().start()
    try:
        dest, _ = tenant.create_destination(url=rx.url, accepted_types=list(EVENTS),
                                            retry_attempts=1)
        published = []
        for t in (CONVERSATION, RESOURCE, CONVERSATION, KEY_EXPIRY, RESOURCE, CONVERSATION):
            published.append((publish(tenant, EVENTS[t](tenant.org_id))["delivery_ids"][0], t))
            time.sleep(0.01)  # distinct created_at
        for i, _ in published:
            wait_for_state(tenant, dest, i, "success", timeout=20)
        rx.set_script([], default=Reply(500))
        failing = []
        for t in (CONVERSATION, RESOURCE, CONVERSATION):
            failing.append((publish(tenant, EVENTS[t](tenant.org_id))["delivery_ids"][0], t))
            time.sleep(0.01)
        records = {}
        for i, _ in failing:
            records[i] = wait_for_state(tenant, dest, i, "failed", timeout=20)
        for i, _ in published:
            records[i] = get_delivery(tenant, dest, i)
        yield History(tenant, dest, rx, published + failing, records)
    finally:
        rx.stop()
        tenant.close()


def newest_first(h: History, ids) -> list[str]:
    order = {i: n for n, i in enumerate(h.ids)}
    return sorted(ids, key=lambda i: -order[i])


def test_default_listing_is_every_delivery_newest_first_per_the_seed(history):
    body = history.query()
    assert_response_valid(seed_spec(), SEED_PATH, "get", 200, body)
    assert body["has_more"] is False
    got = body["webhook_deliveries"]
    assert [d["id"] for d in got] == list(reversed(history.ids))
    for d in got:
        assert d == history.records[d["id"]]
    created = [parse_time(d["created_at"]) for d in got]
    assert created == sorted(created, reverse=True)


def test_status_filter(history):
    success = [i for i in history.ids if history.records[i]["state"] == "success"]
    failed = [i for i in history.ids if history.records[i]["state"] == "failed"]
    assert len(success) == 6 and len(failed) == 3
    assert history.query_ids(status="success") == newest_first(history, success)
    assert history.query_ids(status="failed") == newest_first(history, failed)
    for d in history.query(status="failed")["webhook_deliveries"]:
        assert d["status"] == "failed" and len(d["delivery_attempts"]) == 2


def test_state_filter(history):
    for state in ("success", "failed"):
        want = [i for i in history.ids if history.records[i]["state"] == state]
        assert history.query_ids(state=state) == newest_first(history, want)
    assert history.query_ids(state="pending") == []
    assert history.query_ids(state="retrying") == []
    assert history.query_ids(state="success", status="failed") == []


def test_type_filter(history):
    for t in EVENTS:
        want = [i for i, typ in history.published if typ == t]
        assert want
        assert history.query_ids(type=t) == newest_first(history, want)
    assert history.query_ids(type="no-such-type") == []
    # Filters combine.
    want = [i for i, typ in history.published
            if typ == CONVERSATION and history.records[i]["state"] == "failed"]
    assert history.query_ids(type=CONVERSATION, status="failed") == newest_first(history, want)


def test_created_after_and_before(history):
    ids = history.ids
    created = {i: history.records[i]["created_at"] for i in ids}
    pivot = ids[4]
    t = created[pivot]
    after = [i for i in ids if parse_time(created[i]) >= parse_time(t)]
    before = [i for i in ids if parse_time(created[i]) <= parse_time(t)]
    assert pivot in after and pivot in before and len(after) + len(before) == len(ids) + 1
    assert history.query_ids(created_after=t) == newest_first(history, after)
    assert history.query_ids(created_before=t) == newest_first(history, before)
    assert history.query_ids(created_after=t, created_before=t) == [pivot]
    # Another spelling of the same instant: an offset instead of Z.
    as_dt = datetime.fromtimestamp(parse_time(t), tz=timezone(timedelta(hours=2)))
    assert history.query_ids(created_after=as_dt.isoformat(timespec="milliseconds")) \
        == newest_first(history, after)
    now = datetime.now(timezone.utc)
    assert history.query_ids(created_after=(now + timedelta(hours=1)).isoformat()) == []
    assert history.query_ids(created_before=(now - timedelta(days=1)).isoformat()) == []
    assert history.query_ids(created_after=created[ids[0]], created_before=created[ids[-1]]) == newest_first(history, ids)


STATUS_RANK = {"failed": 0, "success": 1}


def sort_key(d: dict, field: str):
    if field == "type":
        return d["type"]
    if field == "status":
        return STATUS_RANK[d["status"]]
    return parse_time(d["created_at"])


def assert_sorted(deliveries: list[dict], keys: list[str]) -> None:
    """Consecutive deliveries are in order by the keys (ties broken in order,
    then newest first)."""
    for a, b in zip(deliveries, deliveries[1:]):
        for k in keys + ["-created_at"]:
            va, vb = sort_key(a, k[1:]), sort_key(b, k[1:])
            if va == vb:
                continue
            assert (va < vb) if k[0] == "+" else (va > vb), (keys, k, a["id"], va, b["id"], vb)
            break


@pytest.mark.parametrize("keys", [
    ["+type"], ["-type"], ["+status"], ["-status"], ["+created_at"], ["-created_at"],
    ["+type", "-status"], ["-status", "+type", "+created_at"], ["+status", "-type"],
])
def test_sort_by(history, keys):
    body = history.query(sort_by=keys)
    got = body["webhook_deliveries"]
    assert sorted(d["id"] for d in got) == sorted(history.ids)
    assert_sorted(got, keys)
    # The order is not just the default one.
    if keys in (["+created_at"],):
        assert [d["id"] for d in got] == history.ids
    if keys == ["+status"]:
        assert [d["status"] for d in got] == ["failed"] * 3 + ["success"] * 6
    if keys == ["-status"]:
        assert [d["status"] for d in got] == ["success"] * 6 + ["failed"] * 3


def test_sort_by_an_unescaped_plus_is_ascending(history):
    # A '+' written into the query string unescaped means a space; it still sorts ascending.
    r = history.tenant.client.get(
        deliveries_path(history.tenant, history.destination_id) + "?sort_by=+created_at")
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()["webhook_deliveries"]] == history.ids


def test_limit_bounds(history):
    zero = history.query(limit=0)
    assert zero["webhook_deliveries"] == []
    assert history.query(limit=50)["webhook_deliveries"] == history.query()["webhook_deliveries"]
    one = history.query(limit=1)
    assert [d["id"] for d in one["webhook_deliveries"]] == [history.ids[-1]]
    assert one["has_more"] is True and isinstance(one["continuation_token"], int)
    r = history.tenant.client.get(deliveries_path(history.tenant, history.destination_id),
                                  params={"limit": 51})
    assert r.status_code == 422, (r.status_code, r.text)


def page_through(tenant, dest, between=None, **params) -> tuple[list[str], int]:
    """Every id over all pages (calling `between()` after each page) and the page count."""
    ids, pages, token = [], 0, None
    while True:
        q = dict(params)
        if token is not None:
            q["continuation_token"] = token
        body = list_deliveries(tenant, dest, **q)
        pages += 1
        assert_response_valid(seed_spec(), SEED_PATH, "get", 200, body)
        ids += [d["id"] for d in body["webhook_deliveries"]]
        if not body["has_more"]:
            return ids, pages
        token = body["continuation_token"]
        assert isinstance(token, int), body
        if between:
            between()
        assert pages < 100


def test_paging_returns_every_delivery_once_while_new_ones_arrive(history):
    tenant, dest = history.tenant, history.destination_id
    history.receiver.set_script([], default=Reply(200))
    arrived = []

    def publish_one():
        arrived.append(publish(tenant, conversation_event(tenant.org_id))["delivery_ids"][0])

    ids, pages = page_through(tenant, dest, between=publish_one, limit=4)
    assert pages == 3
    assert ids == list(reversed(history.ids)), "each delivery exactly once, newest first"
    assert len(arrived) == 2
    # Sorted by type, newest publishes keep out of the running pages too.
    ids, pages = page_through(tenant, dest, between=publish_one, limit=2, sort_by=["+type"])
    assert sorted(ids) == sorted(history.ids + arrived[:2]) and len(ids) == len(set(ids))
    # A fresh paging sees every delivery published until it started.
    for i in arrived:
        wait_for_state(tenant, dest, i, "success", timeout=20)
    ids, _ = page_through(tenant, dest, limit=5)
    assert sorted(ids) == sorted(history.ids + arrived)


def test_default_page_is_50_and_the_next_page_holds_the_rest(org):
    with Receiver() as rx:
        dest, _ = org.create_destination(url=rx.url, accepted_types=[RESOURCE])
        ids = [publish(org, resource_event(org.org_id))["delivery_ids"][0] for _ in range(53)]
        first = list_deliveries(org, dest)
        assert len(first["webhook_deliveries"]) == 50 and first["has_more"] is True
        assert [d["id"] for d in first["webhook_deliveries"]] == list(reversed(ids))[:50]
        second = list_deliveries(org, dest, continuation_token=first["continuation_token"])
        assert [d["id"] for d in second["webhook_deliveries"]] == list(reversed(ids))[50:]
        assert second["has_more"] is False
        rx.wait_for(53, timeout=30)


@pytest.mark.parametrize("params", [
    {"status": "pending"}, {"status": "SUCCESS"}, {"state": "done"}, {"created_after": "yesterday"},
    {"created_before": "2026-13-01T00:00:00Z"}, {"limit": "51"}, {"limit": "-1"}, {"limit": "ten"},
    {"continuation_token": "-1"}, {"continuation_token": "abc"}, {"sort_by": "name"},
    {"sort_by": "*type"}, {"sort_by": "-"}, {"sort_by": ["+type", "+url"]},
])
def test_bad_parameters_are_422(history, params):
    r = history.tenant.client.get(deliveries_path(history.tenant, history.destination_id),
                                  params=params)
    assert r.status_code == 422, (params, r.status_code, r.text)
    detail = r.json()["detail"]
    named = {tuple(e["loc"])[-1] for e in detail}
    assert set(params) <= named, (params, detail)


def test_unknown_and_foreign_destinations(history, engine):
    t = history.tenant
    for suffix in ("", "/" + history.ids[0]):
        r = t.client.get(deliveries_path(t, "0123456789abcdef01234567", suffix))
        assert r.status_code == 404, (r.status_code, r.text)
    r = t.client.get(deliveries_path(t, "not-an-id"))
    assert r.status_code in (404, 422), (r.status_code, r.text)
    stranger = new_tenant(engine)
    try:
        # Another organization's destination through one's own organization: unknown.
        r = stranger.client.get(deliveries_path(stranger, history.destination_id))
        assert r.status_code == 404, (r.status_code, r.text)
        r = stranger.client.get(deliveries_path(stranger, history.destination_id, "/" + history.ids[0]))
        assert r.status_code == 404, (r.status_code, r.text)
        # Through the other organization's path with one's own credentials: refused.
        r = stranger.client.get(deliveries_path(t, history.destination_id))
        assert r.status_code in (401, 403, 404), (r.status_code, r.text)
        assert "webhook_deliveries" not in r.text
    finally:
        stranger.close()


def test_query_needs_the_deliveries_permission(history, engine):
    others = [p for p in ALL_PERMISSIONS if p != GET_DELIVERIES]
    user = new_user(engine, history.tenant.org_id, others)
    reader = new_user(engine, history.tenant.org_id, [GET_DELIVERIES])
    try:
        for suffix in ("", "/" + history.ids[0]):
            r = user.client.get(deliveries_path(user, history.destination_id, suffix))
            assert r.status_code == 403, (r.status_code, r.text)
            r = reader.client.get(deliveries_path(reader, history.destination_id, suffix))
            assert r.status_code == 200, (r.status_code, r.text)
    finally:
        user.close()
        reader.close()


def test_get_one_delivery(history):
    t, dest = history.tenant, history.destination_id
    failed_id = history.ids[-1]
    d = get_delivery(t, dest, failed_id)
    assert d["id"] == failed_id and d["type"] == CONVERSATION
    assert d["state"] == "failed" and d["status"] == "failed" and d["next_retry_at"] is None
    assert [a["status_code"] for a in d["delivery_attempts"]] == [500, 500]
    assert d["webhook_content"]["org_id"] == t.org_id
    assert set(d) >= {"id", "type", "webhook_content", "status", "delivery_attempts",
                      "dual_signed", "created_at", "state", "next_retry_at"}
    r = t.client.get(deliveries_path(t, dest, "/0123456789abcdef01234567"))
    assert r.status_code == 404, (r.status_code, r.text)


def test_manual_retry_of_a_failed_delivery(org, engine):
    with Receiver(default=Reply(500)) as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION],
                                              retry_attempts=1)
        [failed_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        wait_for_state(org, dest, failed_id, "failed", timeout=20)
        rx.wait_for(2, timeout=5)

        # Retrying needs the update permission.
        reader = new_user(engine, org.org_id, [p for p in ALL_PERMISSIONS if p != UPDATE_DESTINATION])
        try:
            r = reader.client.post(deliveries_path(reader, dest, f"/{failed_id}/retry"))
            assert r.status_code == 403, (r.status_code, r.text)
        finally:
            reader.close()
        rx.assert_quiet(0.5, 2)

        # A fresh budget: 1 + retry_attempts more attempts, then failed again.
        r = org.client.post(deliveries_path(org, dest, f"/{failed_id}/retry"))
        assert r.status_code == 202, (r.status_code, r.text)
        assert r.json()["id"] == failed_id and r.json()["state"] == "pending", r.json()
        reqs = rx.wait_for(4, timeout=20)
        d = wait_for_state(org, dest, failed_id, "failed", timeout=20)
        assert [a["status_code"] for a in d["delivery_attempts"]] == [500] * 4
        rx.assert_quiet(2, 4)

        # Now the receiver is back: the retry delivers, with the same id.
        rx.set_script([], default=Reply(200))
        r = org.client.post(deliveries_path(org, dest, f"/{failed_id}/retry"))
        assert r.status_code == 202, (r.status_code, r.text)
        reqs = rx.wait_for(5, timeout=20)
        assert {q.header("webhook-id") for q in reqs} == {failed_id}
        verify_webhooks(reqs, secret)
        d = wait_for_state(org, dest, failed_id, "success", timeout=20)
        assert [a["status_code"] for a in d["delivery_attempts"]] == [500] * 4 + [200]
        assert d["status"] == "success"

        # Only failed deliveries can be retried.
        r = org.client.post(deliveries_path(org, dest, f"/{failed_id}/retry"))
        assert r.status_code == 409, (r.status_code, r.text)
        r = org.client.post(deliveries_path(org, dest, "/0123456789abcdef01234567/retry"))
        assert r.status_code == 404, (r.status_code, r.text)
        rx.assert_quiet(1, 5)


def test_retrying_delivery_shows_in_the_state_filter(org):
    with Receiver(default=Reply(503)) as rx:
        dest, _ = org.create_destination(url=rx.url, accepted_types=[CONVERSATION],
                                         retry_attempts=5)
        [delivery_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        wait_for_state(org, dest, delivery_id, "retrying", timeout=10, poll=0.05)
        body = list_deliveries(org, dest, state="retrying")
        assert [d["id"] for d in body["webhook_deliveries"]] == [delivery_id]
        assert body["webhook_deliveries"][0]["next_retry_at"] is not None
        assert [d["id"] for d in list_deliveries(org, dest, status="failed")["webhook_deliveries"]] \
            == [delivery_id]
        assert list_deliveries(org, dest, state="failed")["webhook_deliveries"] == []
        # A retry of a delivery still in flight is refused.
        r = org.client.post(deliveries_path(org, dest, f"/{delivery_id}/retry"))
        assert r.status_code == 409, (r.status_code, r.text)
        rx.set_script([], default=Reply(200))
        wait_for_state(org, dest, delivery_id, "success", timeout=20)
        assert list_deliveries(org, dest, state="retrying")["webhook_deliveries"] == []


# --- a log of thousands: every query shape by index seeks and keysets -----------------------

BIG_LOG = 2_500


@pytest.fixture(scope="module")
def big_log():
    """One destination with 2,500 finished deliveries of the three types,
    published one after another (so log order is publish order), a quarter
    of them failed; and the whole log as the default listing pages it."""
    engine = shared_engine()
    tenant = new_tenant(engine)
    rx = Receiver(reply_for=lambda n: Reply(500) if n % 4 == 3 else Reply(200)).start()
    try:
        dest, _ = tenant.create_destination(url=rx.url, accepted_types=list(EVENTS),
                                            retry_attempts=1)
        types = list(EVENTS)
        published = []
        for n in range(BIG_LOG):
            t = types[(n * 7 + n // 5) % 3]
            published.append(publish(tenant, EVENTS[t](tenant.org_id))["delivery_ids"][0])
        deadline = time.monotonic() + 120
        while any(list_deliveries(tenant, dest, state=s, limit=1)["webhook_deliveries"]
                  for s in ("pending", "retrying")):
            assert time.monotonic() < deadline, "deliveries still unfinished"
            time.sleep(0.5)
        yield tenant, dest, published
    finally:
        rx.stop()
        tenant.close()


def page_rows(tenant, dest, **params) -> list[dict]:
    """Every delivery of a listing, following continuation tokens."""
    rows, token = [], None
    while True:
        q = dict(params)
        if token is not None:
            q["continuation_token"] = token
        body = list_deliveries(tenant, dest, **q)
        rows += body["webhook_deliveries"]
        if not body["has_more"]:
            return rows
        token = body["continuation_token"]
        assert isinstance(token, int) and 0 < token < 2**53


@pytest.mark.slow
@pytest.mark.parametrize("params", [
    {},
    {"status": "failed"},
    {"status": "success"},
    {"state": "failed"},
    {"type": RESOURCE},
    {"type": KEY_EXPIRY, "status": "failed"},
    {"sort_by": ["+type"]},
    {"sort_by": ["-type"]},
    {"sort_by": ["-status"]},
    {"sort_by": ["+status", "-type"]},
    {"sort_by": ["-type", "+status", "-created_at"]},
    {"sort_by": ["+created_at"]},
    {"status": "success", "sort_by": ["-type"]},
    {"time range": True},
], ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()) or "default")
@pytest.mark.timeout(600)
def test_every_query_shape_pages_a_large_log_exactly(big_log, params):
    """Each shape, paged 50 at a time over 2,500 deliveries, returns exactly
    what a plain filter and sort of the whole log gives (ties in created_at
    in log order, in the direction of created_at), every delivery once."""
    tenant, dest, published = big_log
    order = {i: n for n, i in enumerate(published)}
    everything = page_rows(tenant, dest, limit=50)
    assert [d["id"] for d in everything] == list(reversed(published))
    params = dict(params)
    if params.pop("time range", False):
        created = sorted(parse_time(d["created_at"]) for d in everything)
        lo, hi = created[len(created) // 3], created[2 * len(created) // 3]
        as_text = {parse_time(d["created_at"]): d["created_at"] for d in everything}
        params = {"created_after": as_text[lo], "created_before": as_text[hi]}
    want = [d for d in everything
            if params.get("status") in (None, d["status"])
            and params.get("state") in (None, d["state"])
            and params.get("type") in (None, d["type"])
            and ("created_after" not in params
                 or parse_time(d["created_at"]) >= parse_time(params["created_after"]))
            and ("created_before" not in params
                 or parse_time(d["created_at"]) <= parse_time(params["created_before"]))]
    keys = list(params.get("sort_by", []))
    created_desc = True
    leading = []
    for k in keys:
        if k[1:] == "created_at":
            created_desc = k[0] == "-"
            break
        if k[1:] not in [x[1:] for x in leading]:
            leading.append(k)
    # Stable sorts, least significant key first: log order, created_at, then the leading keys.
    want.sort(key=lambda d: order[d["id"]], reverse=created_desc)
    want.sort(key=lambda d: parse_time(d["created_at"]), reverse=created_desc)
    for k in reversed(leading):
        want.sort(key=lambda d, f=k[1:]: sort_key(d, f), reverse=k[0] == "-")
    got = page_rows(tenant, dest, limit=50, **params)
    assert len({d["id"] for d in got}) == len(got), "a delivery came twice"
    assert [d["id"] for d in got] == [d["id"] for d in want]
