"""End-to-end test that destinations survive a crash of the runtime: after
SIGKILL and a restart on the same state, the records, the signed-in token,
the per-destination secret state (rotation cooldown) and the 10-destination
count are all as they were.
"""

from __future__ import annotations

import time

import pytest

from harness import destination_body, new_tenant


@pytest.mark.slow
def test_destinations_survive_a_killed_runtime(make_worker):
    w = make_worker()
    t = new_tenant(w)
    try:
        ids = [t.create_destination(name=f"d{i}")[0] for i in range(10)]
        assert t.client.post(t.destination_path(ids[0], "/rotate-secret")).status_code == 200
        assert t.client.post(t.destination_path(ids[1]), json={"timeout_seconds": 3}).status_code == 204
        before = t.list_destinations()

        w.kill()
        assert not w.running
        started = time.monotonic()
        w.start()
        restart_seconds = time.monotonic() - started

        assert t.list_destinations() == before, "records changed across the restart"
        # The rotation cooldown lives in the destination's Durable Object.
        assert t.client.post(t.destination_path(ids[0], "/rotate-secret")).status_code == 400
        assert t.client.post(t.destination_path(ids[2], "/rotate-secret")).status_code == 200
        assert t.client.post(t.destinations_path, json=destination_body()).status_code == 400
        assert t.client.delete(t.destination_path(ids[3])).status_code == 204
        t.create_destination()
        assert "Ready on" in w.log_text().split("=====")[-1]
        assert restart_seconds < 60
    finally:
        t.close()
