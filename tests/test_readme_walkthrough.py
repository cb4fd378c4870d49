"""The README's first hour, run as a reader would (issue 16): against a fresh
`wrangler dev` seeded the way `scripts/dev.sh` seeds it, with the demo
receiver running, the `export` lines dev.sh prints are evaluated and then the
README's walk-through block ("Five minutes with curl") and its portal-session
block run exactly as written, under `bash -eu` (an unset variable or a failed
parse stops it). Every curl's answer status is recorded and checked, and the
webhook the walk-through publishes reaches the demo receiver and verifies
with the secret the walk-through handed it, as the demo page shows.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
import time

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from harness import REPO_ROOT, free_port, tool_env

README = REPO_ROOT / "README.md"
DEV_SH = REPO_ROOT / "scripts" / "dev.sh"

# A curl that records each answer's status line and its arguments, then
# behaves exactly as curl does.
CURL_SHIM = """#!/bin/sh
headers=$(mktemp)
/usr/bin/curl -D "$headers" "$@"
rc=$?
printf '%s\\t%s\\n' "$(head -n 1 "$headers" | cut -d' ' -f2)" "$(echo "$*" | tr '\\n' ' ')" >> "$CURL_LOG"
rm -f "$headers"
exit $rc
"""


def sh_block_after(heading: str) -> str:
    """The first ```sh block after a README heading."""
    text = README.read_text()
    section = text[text.index(heading):]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, heading
    return match.group(1)


def dev_sh_exports(values: dict[str, str]) -> str:
    """The `export` lines scripts/dev.sh prints, with its variables' values."""
    lines = [ln.strip() for ln in DEV_SH.read_text().splitlines() if ln.startswith("  export ")]
    assert lines, "scripts/dev.sh prints no export lines"
    return "\n".join(re.sub(r"\$(\w+)", lambda m: values[m.group(1)], ln) for ln in lines)


def test_the_walkthrough_names_only_variables_dev_sh_exports():
    block = sh_block_after("## Five minutes with curl")
    assigned = set(re.findall(r"^(\w+)=", block, re.M))
    used = set(re.findall(r"\$\{?(\w+)", block)) - assigned
    exported = set(re.findall(r"(\w+)=", "\n".join(
        ln for ln in DEV_SH.read_text().splitlines() if ln.startswith("  export "))))
    assert used and used <= exported, (used, exported)


@pytest.fixture
def demo_receiver():
    """Starts demo/receiver.mjs on a port with the demo destination's secret,
    as scripts/dev.sh does; returns its address. Stopped after the test."""
    started: list[subprocess.Popen] = []

    def start(port: int, secret: str) -> str:
        env = {**tool_env(), "EDGEHOOK_DEMO_PORT": str(port), "EDGEHOOK_DEMO_SECRET": secret}
        started.append(subprocess.Popen(["node", "demo/receiver.mjs"], cwd=REPO_ROOT, env=env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT))
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(url + "/config", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the demo receiver did not start")

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=10)


def verifying_secrets(webhook: dict, secrets: list[str]) -> set[int]:
    """Which of `secrets` (by index) a webhook the demo receiver stored verifies with."""
    body = base64.b64decode(webhook["body_base64"])
    ok = set()
    for i, secret in enumerate(secrets):
        try:
            StandardWebhook(secret).verify(body, webhook["headers"])
            ok.add(i)
        except WebhookVerificationError:
            pass
    return ok


def test_the_readme_walkthrough_runs_as_written(make_worker, demo_receiver, tmp_path):
    worker = make_worker()
    # Seeded as scripts/dev.sh seeds it, the demo destination sending to the receiver.
    demo_port = free_port()
    seeded = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "python"), "scripts/seed_demo.py", worker.url,
         worker.admin_token, f"http://127.0.0.1:{demo_port}/webhook"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    values = dict(shlex.split(line)[0].split("=", 1) for line in seeded.stdout.splitlines())
    demo = demo_receiver(demo_port, values["DEMO_SECRET"])
    exports = dev_sh_exports({**values, "BASE": worker.url, "DEMO": demo})

    shim_dir = tmp_path / "bin"
    shim_dir.mkdir()
    (shim_dir / "curl").write_text(CURL_SHIM)
    (shim_dir / "curl").chmod(0o755)
    log = tmp_path / "curl.log"
    script = "\n".join([exports, sh_block_after("## Five minutes with curl"),
                        sh_block_after("A platform mints a session")])
    run = subprocess.run(
        ["bash", "-eu", "-o", "pipefail", "-c", script], cwd=tmp_path,
        env={"PATH": f"{shim_dir}:{os.environ['PATH']}", "CURL_LOG": str(log), "HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    calls = [line.split("\t", 1) for line in log.read_text().splitlines()]
    statuses = [int(status) for status, _ in calls]
    shown = [(status, re.sub(r"\s+", " ", args)[:120]) for status, args in calls]
    # sign-in, create, hand the secret over, list, one, update, publish, its
    # deliveries, rotate, delete; then a portal session.
    assert statuses == [200, 201, 204, 200, 200, 204, 202, 200, 200, 204, 201], shown
    assert '"webhook_destination_id"' in run.stdout and '"secret":"whsec_' in run.stdout
    session = json.loads(run.stdout.strip().splitlines()[-1])
    assert session["url"].startswith(f"{worker.url}/portal/?frame="), session["url"]

    # The event reached the receiver from the demo destination and from the
    # walk-through's, and each verifies with a secret the receiver holds, as
    # the demo page shows.
    secrets = httpx.get(demo + "/config", timeout=10).json()["secrets"]
    assert len(secrets) == 2 and secrets[0] == values["DEMO_SECRET"], secrets
    deadline = time.monotonic() + 30
    while True:
        got = [w for w in httpx.get(demo + "/webhooks", timeout=10).json()
               if b"agent-framework-resource-updated" in base64.b64decode(w["body_base64"])]
        if len(got) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(got) == 2, got
    assert sorted(tuple(sorted(verifying_secrets(w, secrets))) for w in got) == [(0,), (1,)]
