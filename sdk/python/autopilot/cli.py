"""`autopilot deploy-event`: deploy evidence from CI. `autopilot settings`: what the SDK would use.

    autopilot deploy-event --service checkout-service --version v2.8.1 --commit 3f9c2ab --env prod

A deploy must never fail because the evidence backend is down: without `--strict` the command
reports the problem and exits 0. With `--strict` it exits 1 when the event was not accepted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Sequence

from ._config import load_settings
from ._delivery import DELIVERED, REJECTED, submit
from ._deploy import ci_deployment_event
from ._envelope import encode
from ._transport import HttpTransport, Transport

EXIT_OK, EXIT_NOT_DELIVERED = 0, 1


def main(argv: Sequence[str] | None = None, transport: Transport | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "settings":
        print(json.dumps(load_settings().redacted(), indent=2, sort_keys=True))
        return EXIT_OK
    if transport is not None:
        return deploy_event(args, transport)
    transport = HttpTransport()
    try:
        return deploy_event(args, transport)
    finally:
        transport.close()


def deploy_event(args: argparse.Namespace, transport: Transport) -> int:
    event = ci_deployment_event(
        service=args.service,
        version=args.version,
        commit=args.commit,
        env=args.env,
        domain=args.domain,
        status=args.status,
        reference=args.deploy_ref,
        event_id=args.id,
    )
    if args.dry_run:
        print(json.dumps(event, indent=2))
        return EXIT_OK
    if not args.endpoint:
        return _give_up(args, "no endpoint (set AUTOPILOT_ENDPOINT or pass --endpoint); nothing sent")
    body = b"[" + encode(event) + b"]"
    deadline = time.monotonic() + args.timeout
    attempt, detail = 0, ""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        result = submit(
            transport,
            args.endpoint.rstrip("/"),
            args.token,
            body,
            1,
            connect_timeout=min(2.0, remaining),
            timeout=min(10.0, remaining),
        )
        if result.outcome == DELIVERED and not result.rejected:
            print(f"autopilot: DeploymentEvent {event['id']} delivered to {args.endpoint}")
            return EXIT_OK
        if result.outcome == DELIVERED or result.outcome == REJECTED:
            why = "; ".join(result.rejections) or result.detail
            return _give_up(args, f"the service rejected DeploymentEvent {event['id']}: {why}")
        detail = result.detail
        attempt += 1
        pause = max(result.retry_after or 0.0, random.uniform(0, min(4.0, 0.5 * 2**attempt)))
        time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
    return _give_up(args, f"could not deliver DeploymentEvent {event['id']} within {args.timeout:g}s ({detail})")


def _give_up(args: argparse.Namespace, message: str) -> int:
    if args.strict:
        print(f"autopilot: error: {message}", file=sys.stderr)
        return EXIT_NOT_DELIVERED
    print(f"autopilot: warning: {message}; continuing (pass --strict to fail the step)", file=sys.stderr)
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="autopilot", description="rca producer SDK tools")
    commands = parser.add_subparsers(dest="command", required=True)
    deploy = commands.add_parser(
        "deploy-event",
        help="send a DeploymentEvent (source: ci) for the deploy this CI job just made",
        description="Send a DeploymentEvent from CI. Exits 0 when the backend is down unless --strict.",
    )
    deploy.add_argument("--service", default=env("AUTOPILOT_SERVICE"), required=not env("AUTOPILOT_SERVICE"))
    deploy.add_argument("--version", required=True, help="the version deployed, e.g. v2.8.1")
    deploy.add_argument("--commit", default=env("AUTOPILOT_COMMIT") or env("GITHUB_SHA"))
    deploy.add_argument("--env", default=env("AUTOPILOT_ENV"), help="prod, staging, ...")
    deploy.add_argument("--domain", default=env("AUTOPILOT_DOMAIN"))
    deploy.add_argument("--status", default="succeeded", choices=("succeeded", "failed", "rolled_back"))
    deploy.add_argument("--deploy-ref", help="default: service@version+commit")
    deploy.add_argument("--id", help="event id; default deploy-<service>-<env>-<version>-<commit> (idempotent)")
    deploy.add_argument("--endpoint", default=env("AUTOPILOT_ENDPOINT"))
    deploy.add_argument("--token", default=env("AUTOPILOT_TOKEN"))
    deploy.add_argument("--timeout", type=float, default=15.0, help="total seconds to try for (default 15)")
    deploy.add_argument("--strict", action="store_true", help="exit 1 when the event is not accepted")
    deploy.add_argument("--dry-run", action="store_true", help="print the event and send nothing")
    commands.add_parser("settings", help="print the settings AUTOPILOT_* resolve to (token hidden)")
    return parser


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
