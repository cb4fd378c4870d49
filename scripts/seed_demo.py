"""Seeds the local demo: the organization `demo`, a user `demo-user` holding
every permission, a fresh API key, a signed-in token, a destination that
sends every event type to the demo receiver, and a customer-portal session
minted by `demo-user` (a session holds no more than its minter, and ends with
the minter's key). Idempotent: what exists is kept. Prints shell assignments
for scripts/dev.sh to `eval`."""

import shlex
import sys

import httpx

PERMISSIONS = [
    "Webhook:GetWebhookDestination",
    "Webhook:CreateWebhookDestination",
    "Webhook:UpdateWebhookDestination",
    "Webhook:DeleteWebhookDestination",
    "Webhook:GetWebhookDeliveries",
    "Webhook:SendWebhookEvent",
    "Webhook:CreatePortalSession",
]
TYPES = ["conversation-post-processing-complete", "api-key-expiration-soon", "agent-framework-resource-updated"]
ORG, USER = "demo", "demo-user"


def signed_in(base: str, op: httpx.Client, user: str) -> tuple[dict, str]:
    """A fresh API key of `user` and the token it signs in to."""
    r = op.post(f"/admin/v1/organizations/{ORG}/users/{user}/api_keys", json={})
    r.raise_for_status()
    key = r.json()
    r = httpx.post(f"{base}/v1/{ORG}/user/signin_with_api_key", headers={"x-api-key": key["api_key"], "x-api-key-id": key["api_key_id"], "x-user-id": user}, timeout=30)
    r.raise_for_status()
    return key, r.json()["id_token"]


def main(base: str, admin_token: str, demo_url: str) -> None:
    op = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin_token}"}, timeout=30)
    for path, body in [("/admin/v1/organizations", {"organization_id": ORG}),
                       (f"/admin/v1/organizations/{ORG}/users", {"user_id": USER, "permissions": PERMISSIONS})]:
        r = op.post(path, json=body)
        if r.status_code not in (201, 409):
            sys.exit(f"seeding failed: POST {path} answered {r.status_code} {r.text}")
    key, token = signed_in(base, op, USER)
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    # The demo destination is made afresh each run: its secret is shown only at creation.
    for d in api.get(f"/v1/{ORG}/webhook_destination/").json()["webhook_destinations"]:
        if d["url"] == demo_url:
            api.delete(f"/v1/{ORG}/webhook_destination/{d['id']}")
    r = api.post(f"/v1/{ORG}/webhook_destination/", json={"url": demo_url, "accepted_types": TYPES, "name": "demo receiver"})
    r.raise_for_status()
    dest = r.json()
    r = api.post(f"/v1/{ORG}/portal_session/", json={"ttl_seconds": 86400})
    r.raise_for_status()
    out = {
        "ORG_ID": ORG,
        "USER_ID": USER,
        "API_KEY_ID": key["api_key_id"],
        "API_KEY": key["api_key"],
        "ID_TOKEN": token,
        "DEMO_DESTINATION": dest["webhook_destination_id"],
        "DEMO_SECRET": dest["secret"],
        "PORTAL_URL": r.json()["url"],
    }
    for k, v in out.items():
        print(f"{k}={shlex.quote(v)}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
