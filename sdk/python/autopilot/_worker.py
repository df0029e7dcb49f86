"""The one daemon thread: batches the queue, submits with retries and backoff, obeys the kill switch.

Everything slow (building envelopes, JSON, HTTP, sleeping between retries) happens here, never in
emit(). Every event taken from the queue ends in exactly one place: `delivered`, or one drop reason.
"""

from __future__ import annotations

import contextlib
import random
import threading
from typing import Any, Callable

from . import _counters as reasons
from ._circuit import CircuitBreaker
from ._config import Settings
from ._control import ControlPlane, ControlState
from ._counters import SignalCounters
from ._delivery import DELIVERED, DROPS_HEADER, REJECTED, submit
from ._envelope import encode, envelope, problem
from ._log import ProblemLog, logger
from ._queue import EventQueue
from ._transport import Transport

# Queue items are plain tuples (cheapest to build in emit()); these are their positions.
ENQUEUED, WALL, TYPE, DATA, SUBJECT, EVENT_ID, TIME, TRACE, SOURCE, EXTENSIONS = range(10)


class Worker:
    def __init__(
        self,
        settings: Settings,
        queue: EventQueue,
        counters: SignalCounters,
        transport: Transport,
        circuit: CircuitBreaker,
        control: ControlPlane | None,
        problems: ProblemLog,
        monotonic: Callable[[], float],
        on_control: Callable[[ControlState], None],
        report_health: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.counters = counters
        self.transport = transport
        self.circuit = circuit
        self.control = control
        self.problems = problems
        self.monotonic = monotonic
        self.on_control = on_control
        # SdkHealth (CONTRACT.md section 15): queued every HEALTH_INTERVAL seconds when that is above 0.
        self.report_health = report_health if settings.health_interval > 0 else None
        self.next_health = float("inf")
        self.stop = threading.Event()
        self.deadline = float("inf")  # set by shutdown(): nothing may outlive it
        self.sending = True
        self.thread = threading.Thread(target=self.run, name="autopilot-worker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # the thread must end quietly whatever happens; the host goes on
            logger.warning("autopilot: worker stopped after an unexpected error: %r", exc)
        finally:
            close = getattr(self.transport, "close", None)  # the kept connection, if the transport has one
            if close is not None:
                with contextlib.suppress(Exception):
                    close()

    def _loop(self) -> None:
        queue, settings = self.queue, self.settings
        next_flush = self.monotonic() + settings.flush_interval
        if self.report_health is not None:
            self.next_health = self.monotonic() + settings.health_interval
        while True:
            self._poll_control()
            stopping = self.stop.is_set()
            if not stopping and (len(queue) == 0 or (not queue.flush_requested and len(queue) < queue.batch_size)):
                wait = next_flush - self.monotonic()
                if self.control is not None:
                    wait = min(wait, self.control.seconds_until_due())
                wait = min(wait, self.next_health - self.monotonic())
                if wait > 0:
                    queue.wake.wait(wait)
                queue.wake.clear()
                stopping = self.stop.is_set()
            now = self.monotonic()
            if now >= self.next_health and not stopping:
                self._health(now)
                next_flush = min(next_flush, now)  # the health event goes out in this pass
            # A timer flush sends what was queued when it fired, not what arrives while it sends:
            # under a steady emitter that would turn one flush into a stream of tiny batches, each
            # paying a full HTTP exchange and its GIL hand-offs (measured: 20 events a batch instead
            # of 512 at 1,000 events/s). A flush() or shutdown() drains everything, as it promises.
            timed = len(queue) if now >= next_flush else 0
            while True:
                pending = len(queue)
                if not pending:
                    break
                if pending < queue.batch_size and timed <= 0 and not (stopping or queue.flush_requested):
                    break
                queue.begin_batch()
                try:
                    taken = queue.take(queue.batch_size)
                    timed -= len(taken)
                    self._process(taken, stopping)
                finally:
                    queue.end_batch()
                self._poll_control()
            if now >= next_flush:
                next_flush = now + settings.flush_interval
            if stopping:
                return

    def _health(self, now: float) -> None:
        self.next_health = now + self.settings.health_interval
        try:
            if self.sending and self.report_health is not None:
                self.report_health()
        except Exception as exc:  # self-telemetry must never cost the host or the worker anything
            self.problems.report("health", "autopilot: could not build the SdkHealth event: %r", exc)

    def _poll_control(self) -> None:
        if self.control is None or self.stop.is_set():
            return  # while shutting down, the last known state holds: no new request may outlive the deadline
        previous = self.control.state
        state = self.control.poll_if_due()
        if state == previous:
            return
        if state.sending != self.sending:
            self.sending = state.sending
            logger.warning(
                "autopilot: the control plane %s this producer (enabled=%s, killed=%s).",
                "resumed" if state.sending else "stopped",
                state.enabled,
                state.killed,
            )
        self.on_control(state)

    def _process(self, items: list[tuple[Any, ...]], stopping: bool) -> None:
        if not items:
            return
        now = self.monotonic()
        fresh = [item for item in items if now - item[ENQUEUED] <= self.settings.max_age]
        if len(fresh) < len(items):
            self.counters.drop(reasons.TIMEOUT, len(items) - len(fresh))
        if not fresh:
            return
        if not self.sending:
            self.counters.drop(reasons.KILLED, len(fresh))
            return
        if stopping and now >= self.deadline:
            self.counters.drop(reasons.TIMEOUT, len(fresh))
            return
        if not self.circuit.allow():  # before encoding: an open circuit must cost next to nothing
            self.counters.drop(reasons.CIRCUIT_OPEN, len(fresh))
            return
        events = [event for event in map(self._build, fresh) if event is not None]
        if not events:
            return
        count = len(events)
        try:
            body = encode(events)  # one call for the batch: a third of the cost of one per event
        except Exception:
            parts = [part for part in map(self._encode_alone, events) if part is not None]
            count, body = len(parts), b"[" + b",".join(parts) + b"]"
        if count:
            self._send(body, count, fresh[0][ENQUEUED], stopping)

    def _build(self, item: tuple[Any, ...]) -> dict[str, Any] | None:
        """The envelope, built here (not in emit) from what emit() captured; None if unusable."""
        try:
            trace = item[TRACE]
            event = envelope(
                item[TYPE],
                item[DATA] or {},  # already a private copy, made by emit()
                item[SOURCE] or self.settings.producer or "",
                item[EVENT_ID],
                item[TIME] if item[TIME] is not None else item[WALL],
                item[SUBJECT],
                trace if trace is None or isinstance(trace, str) else trace.traceparent,
                item[EXTENSIONS],
            )
            why = problem(event)
            if why is None:
                return event
        except Exception as exc:
            why = f"it could not be built ({exc!r})"
        self._reject(item[TYPE], why)
        return None

    def _encode_alone(self, event: dict[str, Any]) -> bytes | None:
        """After the batch failed to encode: find the event(s) to blame, send the rest."""
        try:
            return encode(event)
        except Exception as exc:
            self._reject(event.get("type"), f"it could not be encoded ({exc!r})")
            return None

    def _reject(self, event_type: Any, why: str) -> None:
        self.counters.drop(reasons.REJECTED)
        self.problems.report("invalid", "autopilot: dropped a %s event: %s.", event_type, why)

    def _send(self, body: bytes, count: int, oldest: float, stopping: bool) -> None:
        settings, attempt = self.settings, 0
        while True:
            if not self.circuit.allow():
                self.counters.drop(reasons.CIRCUIT_OPEN, count)
                return
            connect_timeout, timeout = settings.connect_timeout, settings.timeout
            if stopping:
                remaining = self.deadline - self.monotonic()
                if remaining <= 0:
                    self.counters.drop(reasons.TIMEOUT, count)
                    return
                connect_timeout, timeout = min(connect_timeout, remaining), min(timeout, remaining)
            extra = {DROPS_HEADER: self.counters.header_value()} if settings.export_drops else None
            result = submit(
                self.transport,
                settings.endpoint or "",
                settings.token,
                body,
                count,
                connect_timeout=connect_timeout,
                timeout=timeout,
                extra_headers=extra,
            )
            if result.outcome == DELIVERED:
                self.circuit.record_success()
                self.counters.delivered += result.delivered
                self.problems.clear("submit", "autopilot: delivering events again.")
                if result.rejected:
                    self.counters.drop(reasons.REJECTED, result.rejected)
                    self.problems.report(
                        "rejected-items", "autopilot: the service rejected %d event(s): %s", result.rejected,
                        "; ".join(result.rejections[:3]),
                    )
                return
            if result.outcome == REJECTED:
                self.circuit.record_success()  # the service is up; resending will not change its mind
                self.counters.drop(reasons.REJECTED, count)
                self.problems.report(
                    "rejected", "autopilot: the service refused a batch of %d event(s) (%s); check "
                    "AUTOPILOT_ENDPOINT and AUTOPILOT_TOKEN.", count, result.detail,
                )
                return
            self.circuit.record_failure()
            self.problems.report("submit", "autopilot: cannot deliver events (%s); will retry.", result.detail)
            attempt += 1
            delay = self._backoff(attempt, result.retry_after)
            if attempt > settings.max_retries or stopping or self.monotonic() + delay - oldest > settings.max_age:
                self.counters.drop(reasons.TIMEOUT, count)
                return
            if self.stop.wait(delay):
                stopping = True  # shutdown cut the backoff short: one last try within its deadline
            self._poll_control()
            if not self.sending:
                self.counters.drop(reasons.KILLED, count)
                return

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        # Exponential backoff with full jitter, so a fleet that failed together does not retry together.
        # https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
        cap = self.settings.backoff_max
        delay = random.uniform(0, min(cap, self.settings.backoff_base * (2 ** (attempt - 1))))
        if retry_after is not None:
            delay = max(delay, min(retry_after, cap))
        return delay
