"""End-to-end test of crash safety: `wrangler dev` is killed with SIGKILL
while deliveries are pending (some waiting for a retry after a failure, some
just queued or in flight) and started again on the same state; every
delivery then arrives (at least once, always with its own delivery id), none
is lost, and every record ends `success`.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from delivery_helpers import (CONVERSATION, RESOURCE, conversation_event, engine, list_deliveries,  # noqa: F401
                              org, publish, resource_event, verify_webhooks, wait_for_state)
from receiver import Receiver, Reply

# An attempt cut off by the crash is retried once its lease runs out: the
# destination's timeout (1 s here) plus 30 s; the restart itself may take a while.
ARRIVAL_TIMEOUT = 120


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkill_with_pending_deliveries_loses_nothing(engine, org):
    with Receiver(default=Reply(500)) as failing, Receiver(default=Reply(200, delay=0.2)) as slow:
        retry_dest, retry_secret = org.create_destination(
            url=failing.url, accepted_types=[CONVERSATION], retry_attempts=5, timeout_seconds=1)
        queue_dest, queue_secret = org.create_destination(
            url=slow.url, accepted_types=[RESOURCE], retry_attempts=5, timeout_seconds=1)

        # Deliveries that fail at first and wait for their retries.
        retrying = [publish(org, conversation_event(org.org_id))["delivery_ids"][0] for _ in range(8)]
        failing.wait_for(8, timeout=20)
        # A burst of deliveries to a slow receiver: most are still queued or in flight.
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: publish(org, resource_event(org.org_id)), range(40)))
        queued = [a["delivery_ids"][0] for a in answers]
        done = list_deliveries(org, queue_dest, state="success")["webhook_deliveries"]
        assert len(done) < len(queued), "every queued delivery finished before the crash"
        pending = list_deliveries(org, retry_dest, status="failed")["webhook_deliveries"]
        assert {d["id"] for d in pending} == set(retrying)
        assert all(d["state"] in ("pending", "retrying") for d in pending), pending

        engine.kill()
        assert not engine.running
        failing.set_script([], default=Reply(200))
        time.sleep(1)
        engine.start()

        deadline = time.monotonic() + ARRIVAL_TIMEOUT
        for rx, ids in ((failing, retrying), (slow, queued)):
            while not set(ids) <= {r.header("webhook-id") for r in rx.received()}:
                missing = set(ids) - {r.header("webhook-id") for r in rx.received()}
                assert time.monotonic() < deadline, f"never arrived after the restart: {sorted(missing)}"
                time.sleep(0.25)

        # Records end success; only the published ids ever arrived; everything verifies.
        for dest, ids in ((retry_dest, retrying), (queue_dest, queued)):
            for i in ids:
                d = wait_for_state(org, dest, i, "success", timeout=ARRIVAL_TIMEOUT)
                assert d["delivery_attempts"][-1]["status_code"] == 200, d
        failing_ids = Counter(r.header("webhook-id") for r in failing.received())
        slow_ids = Counter(r.header("webhook-id") for r in slow.received())
        assert set(failing_ids) == set(retrying)
        assert set(slow_ids) == set(queued)
        assert all(n >= 2 for n in failing_ids.values()), failing_ids  # failed once, then delivered
        verify_webhooks(failing.received(), retry_secret)
        verify_webhooks(slow.received(), queue_secret)
        # Nothing more comes once everything is delivered.
        n_failing, n_slow = len(failing.received()), len(slow.received())
        failing.assert_quiet(2, n_failing)
        slow.assert_quiet(0, n_slow)

        # The restarted Worker keeps delivering new events.
        after = publish(org, conversation_event(org.org_id))["delivery_ids"][0]
        failing.wait_for(n_failing + 1, timeout=20)
        wait_for_state(org, retry_dest, after, "success", timeout=20)
