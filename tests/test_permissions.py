"""End-to-end tests of the permission matrix: every destination endpoint
answers 403 to a user holding every permission but the one it needs, and
succeeds for a user holding only that one.
"""

from __future__ import annotations

import pytest

from harness import (ALL_PERMISSIONS, CREATE_DESTINATION, DELETE_DESTINATION, GET_DESTINATION,
                     UPDATE_DESTINATION, destination_body, new_user)

# endpoint name -> (permission it needs, method, path suffix, body, success status)
ENDPOINTS = {
    "list": (GET_DESTINATION, "GET", None, None, 200),
    "create": (CREATE_DESTINATION, "POST", None, "create", 201),
    "get": (GET_DESTINATION, "GET", "", None, 200),
    "update": (UPDATE_DESTINATION, "POST", "", {"retry_attempts": 4}, 204),
    "delete": (DELETE_DESTINATION, "DELETE", "", None, 204),
    "rotate-secret": (UPDATE_DESTINATION, "POST", "/rotate-secret", None, 200),
}


def call(user, endpoint: str, destination_id: str):
    _, method, suffix, body, _ = ENDPOINTS[endpoint]
    path = user.destinations_path if suffix is None else user.destination_path(destination_id, suffix)
    json = destination_body() if body == "create" else body
    return user.client.request(method, path, json=json)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_user_without_the_permission_gets_403(worker, tenant, endpoint):
    needed = ENDPOINTS[endpoint][0]
    did, _ = tenant.create_destination()
    before = tenant.list_destinations()
    user = new_user(worker, tenant.org_id, [p for p in ALL_PERMISSIONS if p != needed])
    try:
        r = call(user, endpoint, did)
        assert r.status_code == 403, (endpoint, r.status_code, r.text)
        assert needed in r.json()["detail"]
        assert "secret" not in r.json()
    finally:
        user.close()
    assert tenant.list_destinations() == before


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_user_with_only_the_permission_succeeds(worker, tenant, endpoint):
    needed, _, _, _, success = ENDPOINTS[endpoint]
    did, _ = tenant.create_destination()
    user = new_user(worker, tenant.org_id, [needed])
    try:
        r = call(user, endpoint, did)
        assert r.status_code == success, (endpoint, r.status_code, r.text)
    finally:
        user.close()


def test_user_with_no_permission_gets_403_everywhere(worker, tenant):
    did, _ = tenant.create_destination()
    user = new_user(worker, tenant.org_id, [])
    try:
        statuses = {e: call(user, e, did).status_code for e in ENDPOINTS}
        assert statuses == {e: 403 for e in ENDPOINTS}
    finally:
        user.close()
    assert [d["id"] for d in tenant.list_destinations()] == [did]
