"""End-to-end tests of the rate limit: 20 requests a minute per user and
endpoint; the 21st answers 429 with Retry-After, exactly so under
concurrency; other endpoints and other users keep their own count.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from harness import new_user


def assert_limited(r: httpx.Response) -> None:
    assert r.status_code == 429, (r.status_code, r.text)
    retry_after = int(r.headers["retry-after"])
    assert 1 <= retry_after <= 60, retry_after
    assert isinstance(r.json()["detail"], str)


def test_twenty_first_request_in_a_minute_is_429(tenant):
    statuses = [tenant.client.get(tenant.destinations_path).status_code for _ in range(20)]
    assert statuses == [200] * 20
    assert_limited(tenant.client.get(tenant.destinations_path))
    assert_limited(tenant.client.get(tenant.destinations_path, params={"id": "0" * 24}))


def test_limit_is_per_endpoint_and_per_user(worker, tenant):
    for _ in range(20):
        assert tenant.client.get(tenant.destinations_path).status_code == 200
    assert_limited(tenant.client.get(tenant.destinations_path))
    # Another endpoint of the same user keeps its own count.
    did, _ = tenant.create_destination()
    assert tenant.client.get(tenant.destination_path(did)).status_code == 200
    # Another user of the same organization keeps its own count.
    other = new_user(worker, tenant.org_id)
    try:
        assert other.client.get(other.destinations_path).status_code == 200
    finally:
        other.close()


def test_limit_is_exact_under_concurrency(tenant):
    """30 requests at once: exactly 20 pass, the other 10 are 429."""
    def list_once(_):
        r = tenant.client.get(tenant.destinations_path)
        return r.status_code, r.headers.get("retry-after")

    with ThreadPoolExecutor(max_workers=30) as pool:
        results = list(pool.map(list_once, range(30), timeout=90))
    statuses = sorted(s for s, _ in results)
    assert statuses.count(200) == 20, statuses
    assert statuses.count(429) == 10, statuses
    for status, retry_after in results:
        if status == 429:
            assert retry_after is not None and 1 <= int(retry_after) <= 60


def test_concurrent_creates_stop_at_the_limit_and_at_ten(tenant):
    """30 creates at once: at most 10 destinations exist after (the
    organization limit), every other answer is a 400 (limit) or 429 (rate)."""
    def create_once(i):
        return tenant.client.post(tenant.destinations_path, json={
            "url": f"https://hooks.example.com/c/{i}",
            "accepted_types": ["api-key-expiration-soon"]}).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(create_once, range(30), timeout=90))
    assert statuses.count(201) == 10, statuses
    assert statuses.count(429) == 10, statuses
    assert statuses.count(400) == 10, statuses
    # The listing is a different endpoint: not limited by the creates.
    assert len(tenant.list_destinations()) == 10
