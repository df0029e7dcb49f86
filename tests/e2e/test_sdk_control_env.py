"""The rollout's flag per environment, end to end for every SDK (CONTRACT.md section 9): a ring promoted to staging
(not yet to prod) turns its service on in staging and off in prod; each SDK, configured from AUTOPILOT_* alone, asks
`GET /v1/control/{producer}?env=` of a real `rca serve` with its AUTOPILOT_ENV. With env=staging it delivers; with
env=prod it is told it is disabled and drops its run as `killed`, and nothing of it is stored."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from evidence._store import Store
from rollout._flags import turn_on
from sdk_toolchains import SdkProgram, ServedRca, sdk_command, sdk_environment, served_rca

pytestmark = pytest.mark.e2e

# Each waits for its first control answer, emits the run RUN_ID, flushes and prints one JSON line.
CONTROL_CHECK = SdkProgram(
    java_class="ControlCheck",
    java="""
import dev.rca.autopilot.AutopilotClient;
import dev.rca.autopilot.DropReason;
import dev.rca.autopilot.Settings;
import java.time.Duration;
import java.util.Map;

public class ControlCheck {
    public static void main(String[] args) throws Exception {
        AutopilotClient client = new AutopilotClient(Settings.fromEnvironment());
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (!"control-plane".equals(client.stats().control().source()) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        boolean taken = client.emit("JobRunStarted", Map.of("run_id", System.getenv("RUN_ID")));
        client.flush(Duration.ofSeconds(10));
        client.shutdown(Duration.ofSeconds(2));
        System.out.println("{\\"taken\\": " + taken + ", \\"enabled\\": " + client.stats().control().enabled()
                + ", \\"source\\": \\"" + client.stats().control().source() + "\\", \\"delivered\\": "
                + client.stats().delivered() + ", \\"killed\\": " + client.dropped(DropReason.KILLED) + "}");
    }
}
""",
    go_package="./internal/controlcheck",
    node="""
import * as autopilot from "@rca/autopilot";
autopilot.configure();
const deadline = Date.now() + 20_000;
while (autopilot.stats().control.source !== "control-plane" && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const taken = autopilot.emit("JobRunStarted", { run_id: process.env.RUN_ID });
await autopilot.flush(10);
await autopilot.shutdown(2);
const stats = autopilot.stats();
console.log(JSON.stringify({ taken, enabled: stats.control.enabled, source: stats.control.source,
  delivered: stats.delivered, killed: autopilot.signalsDropped().killed }));
""",
    python="""
import json, os, time
import autopilot
autopilot.configure()
deadline = time.monotonic() + 20
while autopilot.stats()["control"]["source"] != "control-plane" and time.monotonic() < deadline:
    time.sleep(0.02)
taken = autopilot.emit("JobRunStarted", {"run_id": os.environ["RUN_ID"]})
autopilot.flush(10)
autopilot.shutdown(2)
stats = autopilot.stats()
print(json.dumps({"taken": taken, "enabled": stats["control"]["enabled"], "source": stats["control"]["source"],
                  "delivered": stats["delivered"], "killed": autopilot.signals_dropped()["killed"]}))
""",
)

LANGUAGES = ["python", "java", "go", "node"]


def _promoted_to_staging(store: Store, now: datetime) -> None:
    for language in LANGUAGES:  # ring-1 promoted to staging: on in staging, written off in prod
        turn_on(store, f"svc://envcheck-{language}", 1, None, "staging", {}, now)


@pytest.fixture(scope="module")
def rca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRca]:
    with served_rca(tmp_path_factory.mktemp("sdk-control-env"), "svc://envcheck-*", _promoted_to_staging) as served:
        yield served


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_sdk_obeys_its_own_environments_flag(language: str, rca: ServedRca, tmp_path: Path) -> None:
    command, cwd = sdk_command(language, CONTROL_CHECK, tmp_path)
    producer = f"svc://envcheck-{language}"
    found = {}
    for environment in ("staging", "prod"):
        env = sdk_environment(
            AUTOPILOT_ENABLED="true", AUTOPILOT_ENDPOINT=rca.server.url, AUTOPILOT_TOKEN=rca.writer,
            AUTOPILOT_SERVICE=f"envcheck-{language}", AUTOPILOT_ENV=environment, AUTOPILOT_STARTUP_EVENT="false",
            AUTOPILOT_FLUSH_INTERVAL="0.1", RUN_ID=f"{language}-{environment}")
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        found[environment] = json.loads(done.stdout.strip().splitlines()[-1])

    # Both asked the control plane and were answered; only staging's flag is on.
    assert found["staging"] == {"taken": True, "enabled": True, "source": "control-plane", "delivered": 1,
                                "killed": 0}, found
    assert found["prod"] == {"taken": False, "enabled": False, "source": "control-plane", "delivered": 0,
                             "killed": 1}, found
    with Store.open(rca.database) as store:
        runs = [r.data["run_id"] for r in store.records(producer_urns=[producer], types=["JobRunStarted"])]
    assert runs == [f"{language}-staging"]
