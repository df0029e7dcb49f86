"""SdkHealth end to end for the Java, Go and Node SDKs (CONTRACT.md section 15): each SDK, configured from AUTOPILOT_*
alone, drops two of six events for a queue of four and reports it in its SdkHealth events to a real `rca serve`;
GET /v1/sdk-health and the adoption report's SDK drop rate then show what each SDK said. (Python's is
tests/rca/test_adoption_api.py and sdk/python/tests/test_health.py.)"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from evidence._store import Store
from sdk_toolchains import SdkProgram, ServedRca, sdk_command, sdk_environment, served_rca

pytestmark = pytest.mark.e2e

JAVA_PROGRAM = """
import dev.rca.autopilot.AutopilotClient;
import dev.rca.autopilot.Settings;
import java.time.Duration;
import java.util.Map;

public class SdkHealthCheck {
    public static void main(String[] args) throws Exception {
        AutopilotClient client = new AutopilotClient(Settings.fromEnvironment());
        for (int i = 0; i < 6; i++) {
            client.emit("JobRunStarted", Map.of("run_id", "health-java-" + i));
        }
        client.flush(Duration.ofSeconds(10));
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (client.stats().delivered() < 6 && System.nanoTime() < deadline) { // four runs, two SdkHealth events
            Thread.sleep(20);
        }
        client.shutdown(Duration.ofSeconds(2));
        StringBuilder dropped = new StringBuilder();
        client.signalsDropped().forEach((reason, n) -> dropped.append(dropped.length() == 0 ? "" : ", ")
                .append('"').append(reason).append("\\": ").append(n));
        System.out.println("{\\"delivered\\": " + client.stats().delivered() + ", \\"dropped\\": {" + dropped + "}}");
    }
}
"""

NODE_PROGRAM = """
import * as autopilot from "@rca/autopilot";
autopilot.configure();
for (let i = 0; i < 6; i++) autopilot.emit("JobRunStarted", { run_id: `health-node-${i}` });
await autopilot.flush(10);
const deadline = Date.now() + 20_000;
while (autopilot.stats().delivered < 6 && Date.now() < deadline) { // four runs, two SdkHealth events
  await new Promise((resolve) => setTimeout(resolve, 20));
}
await autopilot.shutdown(2);
console.log(JSON.stringify({ delivered: autopilot.stats().delivered, dropped: autopilot.signalsDropped() }));
"""


HEALTH = SdkProgram(java=JAVA_PROGRAM, java_class="SdkHealthCheck", go_package="./internal/sdkhealthcheck",
                    node=NODE_PROGRAM)


@pytest.fixture(scope="module")
def rca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRca]:
    with served_rca(tmp_path_factory.mktemp("sdk-health"), "svc://health-*") as served:
        yield served


@pytest.mark.parametrize("language", ["java", "go", "node"])
def test_each_sdk_reports_its_drops_and_rca_aggregates_them(language: str, rca: ServedRca, tmp_path: Path) -> None:
    server, writer, reader = rca.server, rca.writer, rca.reader
    command, cwd = sdk_command(language, HEALTH, tmp_path)
    producer = f"svc://health-{language}"
    env = sdk_environment(
        AUTOPILOT_ENABLED="true", AUTOPILOT_ENDPOINT=server.url, AUTOPILOT_TOKEN=writer,
        AUTOPILOT_SERVICE=f"health-{language}", AUTOPILOT_ENV="staging", AUTOPILOT_QUEUE_SIZE="4",
        AUTOPILOT_BATCH_SIZE="100", AUTOPILOT_FLUSH_INTERVAL="60", AUTOPILOT_HEALTH_INTERVAL="0.3",
        AUTOPILOT_STARTUP_EVENT="false")
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    final = json.loads(done.stdout.strip().splitlines()[-1])  # the SDK's own counters at the end, in process
    assert final["delivered"] >= 6, done.stdout + done.stderr[-3000:]
    # Two of the six runs found the queue full; an SdkHealth that came due before the flush emptied it (a slow
    # start) found it full too: counted, like any event.
    assert final["dropped"]["queue_full"] >= 2, final
    assert {k: v for k, v in final["dropped"].items() if k != "queue_full"} == {
        "timeout": 0, "circuit_open": 0, "killed": 0, "rejected": 0}, final

    # What the SDK said, as stored: the test's own reading of the evidence, beside the service's aggregate.
    with Store.open(rca.database) as store:
        stored = [r.data for r in store.records(producer_urns=[producer], types=["SdkHealth"])]
    assert len(stored) >= 2
    assert {(d["language"], d["env"], d["queue_capacity"], d["interval_s"]) for d in stored} == {
        (language, "staging", 4, 0.3)}
    assert len({d["instance"] for d in stored}) == 1 and all(d["sdk_version"] for d in stored)
    assert all(d["circuit"] == "closed" for d in stored)
    latest = max(stored, key=lambda d: d["delivered"])  # counters are cumulative: the latest holds the most
    assert latest["delivered"] >= 4 and latest["dropped"] == final["dropped"]  # built after the last drop
    lost = sum(final["dropped"].values())
    expected = round(lost / (latest["delivered"] + lost), 6)

    headers = {"Authorization": f"Bearer {reader}"}
    [item] = httpx.get(f"{server.url}/v1/sdk-health", params={"producer": producer}, headers=headers,
                       timeout=30).json()["items"]
    assert (item["language"], item["instances"], item["delivered"], item["dropped_total"], item["drop_rate"]) == (
        language, 1, latest["delivered"], lost, expected)
    adoption = httpx.get(f"{server.url}/v1/adoption", headers=headers, timeout=60).json()
    [sdk] = [s for s in adoption["sdk"] if s["producer_urn"] == producer]
    assert (sdk["language"], sdk["dropped"], sdk["drop_rate"]) == (language, lost, expected)

