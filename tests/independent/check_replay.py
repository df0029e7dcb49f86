#!/usr/bin/env python3
# VENDORED, NOT OURS. Copied byte for byte from the development workspace's ../shared/tools/check_replay.py,
# written apart from this project, so that scenarios are judged by code that is not the project's own (a lenient
# `rca eval` cannot hide a wrong answer). Keep it independent of the product: nothing in evidence/, detectors/,
# guardrails/, copilot/, evals/ or rca/ may import it, and it must not import them. Do not edit it here: below
# this comment block it must stay identical to the original (tests/independent/test_vendored.py checks it).
# Its docstring speaks from the workspace: here run it as `python3 tests/independent/check_replay.py FILE...
# [--rca]` from the repository root; the scenario format it cites is docs/SCENARIOS.md.
"""Independent checker: replays scenario files through the project's own CLI and checks `expect`.

Usage (from the project's root): python3 ../shared/tools/check_replay.py SCENARIO.yaml... [--rca]
Runs `.venv/bin/rca replay FILE --json [--rca]` and compares the document with the scenario's
expectations as ../shared/scenarios/README.md defines them. It is written apart from the
project's own `rca eval`, so that a lenient harness cannot hide a wrong answer. Needs PyYAML.
Prints one line per scenario and a last line `N passed, M failed`; exits 1 when any failed.
"""
import json
import subprocess
import sys
from datetime import datetime

import yaml


def instant(s):
    return datetime.fromisoformat(str(s).replace("Z", "+00:00")).replace(microsecond=0)


def refs(evidence_list, ids):
    by_id = {e.get("evidence_id"): e.get("source_ref") for e in evidence_list or []}
    return {by_id.get(i, i) for i in ids or []}


def check_incident(exp, inc, fails):
    name = f"incident {exp['dataset_urn']}"
    for key in ("reason_code", "field", "current_watermark", "expected_watermark", "stale_evidence"):
        if key in exp and inc.get(key) != exp[key]:
            fails.append(f"{name}: {key} is {inc.get(key)!r}, expected {exp[key]!r}")
    for key in ("first_bad_time", "last_good_time"):
        if key in exp:
            got = inc.get(key)
            if got is None or instant(got) != instant(exp[key]):
                fails.append(f"{name}: {key} is {got!r}, expected {exp[key]!r}")
    if "correlated_deploy" in exp:
        deploys = inc.get("correlated_deploys") or []
        got = deploys[0].get("version") if deploys else None
        if got != exp["correlated_deploy"]:
            fails.append(f"{name}: correlated deploy is {got!r}, expected {exp['correlated_deploy']!r}")
    if "bad_rate" in exp:
        br, tol = inc.get("bad_rate") or {}, exp["bad_rate"].get("tolerance", 0.0)
        for side in ("before", "after"):
            want, got = exp["bad_rate"][side], br.get(side)
            if got is None or abs(float(got) - want) > tol + 1e-9:
                fails.append(f"{name}: bad_rate.{side} is {got!r}, expected {want} +- {tol}")
    for want in exp.get("impacted_downstream_includes", []):
        if want not in (inc.get("impacted_downstream") or []):
            fails.append(f"{name}: impacted_downstream lacks {want}")
    have = {e.get("source_ref") for e in inc.get("evidence") or []}
    for want in exp.get("evidence_includes", []):
        if want not in have:
            fails.append(f"{name}: evidence lacks {want}")


def check_rca(exp, rca, fails):
    name = f"rca {exp['dataset_urn']}"
    for key in ("verdict", "reason_code"):
        if key in exp and rca.get(key) != exp[key]:
            fails.append(f"{name}: {key} is {rca.get(key)!r}, expected {exp[key]!r}")
    if "correlated_deploy" in exp:
        got = (rca.get("correlated_deploy") or {}).get("version")
        if got != exp["correlated_deploy"]:
            fails.append(f"{name}: correlated deploy is {got!r}, expected {exp['correlated_deploy']!r}")
    cited = set()
    for claim in rca.get("claims") or []:
        cited |= refs(rca.get("evidence"), claim.get("evidence_ids"))
    cause = rca.get("most_likely_cause") or {}
    cited |= refs(rca.get("evidence"), cause.get("evidence_ids"))
    for want in exp.get("must_cite", []):
        if want not in cited:
            fails.append(f"{name}: no verified claim cites {want}")
    for bad in exp.get("must_not_cite", []):
        if bad in cited:
            fails.append(f"{name}: a claim cites {bad}, which it must not")
    if exp.get("next_checks_nonempty") and not rca.get("next_checks"):
        fails.append(f"{name}: next_checks is empty")


def check(path, with_rca):
    scenario = yaml.safe_load(open(path))
    cmd = [".venv/bin/rca", "replay", path, "--json"] + (["--rca"] if with_rca else [])
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        return [f"`{' '.join(cmd)}` exited {run.returncode}: {run.stderr.strip()[-300:]}"]
    try:
        doc = json.loads(run.stdout)
    except json.JSONDecodeError as e:
        return [f"replay output is not one JSON document: {e}"]
    incidents, exp, fails = doc.get("incidents") or [], scenario.get("expect") or {}, []
    if exp.get("incidents") == [] and incidents:
        fails.append(f"expected no incident, got {[(i.get('dataset_urn'), i.get('reason_code')) for i in incidents]}")
    for want in exp.get("incidents") or []:
        found = [i for i in incidents if i.get("dataset_urn") == want["dataset_urn"]
                 and i.get("kind") == want.get("kind", i.get("kind"))]
        if len(found) != 1:
            fails.append(f"incident {want['dataset_urn']}: {len(found)} open incidents match, expected 1")
            continue
        check_incident(want, found[0], fails)
    for ban in exp.get("no_incident") or []:
        for i in incidents:
            if i.get("dataset_urn") == ban["dataset_urn"] and ban.get("reason_code", i.get("reason_code")) == i.get("reason_code"):
                fails.append(f"unexpected incident {i.get('dataset_urn')} {i.get('reason_code')}")
    for want in exp.get("drift") or []:
        ok = any(d.get("topic") == want["topic"] and d.get("schema_id") == want["schema_id"]
                 and (d.get("change_request_id") or not want.get("change_request")) for d in doc.get("drift") or [])
        if not ok:
            fails.append(f"drift {want['topic']} schema {want['schema_id']} not flagged with a change request")
    if with_rca:
        rcas = doc.get("rca") or []
        for want in exp.get("rca") or []:
            ids = {i.get("id") for i in incidents if i.get("dataset_urn") == want["dataset_urn"]}
            found = [r for r in rcas if r.get("incident_id") in ids]
            if not found:
                fails.append(f"rca {want['dataset_urn']}: no RCA for its incident")
                continue
            check_rca(want, found[0], fails)
    return fails


def main(argv):
    with_rca = "--rca" in argv
    paths = [a for a in argv if not a.startswith("--")]
    passed = failed = 0
    for p in paths:
        try:
            fails = check(p, with_rca)
        except Exception as e:  # a crash in the project is a failure of that scenario, not of the checker
            fails = [f"{type(e).__name__}: {e}"]
        if fails:
            failed += 1
            print(f"FAIL {p}: " + "; ".join(fails))
        else:
            passed += 1
            print(f"ok   {p}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
