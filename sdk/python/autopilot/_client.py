"""The Client: emit() on the host's threads, one Worker behind it, flush/shutdown, fork and exit.

Disabled (the default) means nothing is built: no queue, no thread, no socket; emit() is one
attribute check and a return.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any, Callable

from . import _counters as reasons
from ._circuit import CircuitBreaker
from ._config import Settings, load_settings
from ._control import ControlPlane, ControlState
from ._counters import SignalCounters
from ._deploy import startup_deployment
from ._envelope import EVENT_TYPES, TimeLike, new_event_id, reseed_after_fork
from ._log import ProblemLog, logger
from ._queue import EventQueue
from ._trace import _current
from ._transport import HttpTransport, Transport
from ._worker import Worker

_clients: weakref.WeakSet[Client] = weakref.WeakSet()
_hooks_lock = threading.Lock()
_hooks_installed = False
_startup_lock = threading.Lock()
_startup_sent = False  # once per process, whichever client sends it (DESIGN: startup fallback)


class Client:
    """One producer's connection to the rca service. Most code uses the module functions instead."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings = settings if settings is not None else load_settings()
        self._clock = clock
        self._monotonic = monotonic
        self._accepting = False  # emit() reads only this on the hot path
        self._killed = False
        self._closed = False
        self._worker: Worker | None = None
        self._control_state = ControlState()
        self.active = settings.enabled and bool(settings.endpoint)
        if settings.enabled and not settings.endpoint:
            logger.warning("autopilot: AUTOPILOT_ENABLED is true but AUTOPILOT_ENDPOINT is not set; staying off.")
        if not self.active:
            return
        self._transport = transport if transport is not None else HttpTransport()
        self._queue = EventQueue(settings.queue_size, settings.batch_size)
        self._counters = SignalCounters()
        self._problems = ProblemLog()
        self._circuit = CircuitBreaker(settings.circuit_failures, settings.circuit_reset, monotonic)
        self._worker_lock = threading.Lock()
        self._instance = new_event_id()[:16]  # names this process in SdkHealth events
        self._accepting = True
        _install_process_hooks(self)
        logger.info("autopilot: sending evidence as %s to %s.", settings.producer, settings.endpoint)
        self._start_worker()
        self._send_startup_event()

    # -- the hot path ------------------------------------------------------------------------------

    def emit(
        self,
        event_type: str,
        data: Mapping[str, Any] | None = None,
        *,
        subject: str | None = None,
        event_id: str | None = None,
        time: TimeLike | None = None,
        traceparent: str | None = None,
        source: str | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> bool:
        """Queue one event; True if queued. Never blocks, never raises; a dropped event is counted."""
        if not self._accepting:
            if self._killed:
                self._counters.drop(reasons.KILLED)
            return False
        try:
            if event_type not in EVENT_TYPES:
                self._counters.drop(reasons.REJECTED)
                self._problems.report("type", "autopilot: %r is not an envelope v1 type; dropped.", event_type)
                return False
            # Only capture here; the envelope (id, RFC 3339 time, JSON) is built by the worker.
            item = (
                self._monotonic(),
                self._clock(),
                event_type,
                dict(data) if data else None,  # a copy: the caller may reuse its dict
                subject,
                event_id,
                time,
                traceparent or _current.get(),
                source,
                extensions,
            )
            if not self._queue.put(item):
                self._counters.drop(reasons.QUEUE_FULL)
                return False
            if self._worker is None:
                self._start_worker()  # first emit in a forked child
            return True
        except Exception as exc:  # e.g. data that is not a mapping
            self._counters.drop(reasons.REJECTED)
            self._problems.report("emit", "autopilot: emit() dropped an event it could not take: %r", exc)
            return False

    # -- lifecycle ---------------------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is delivered or dropped; False if `timeout` ran out."""
        if not self.active or self._worker is None:
            return True
        try:
            return self._queue.wait_idle(max(0.0, timeout))
        except Exception:
            return False

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Stop accepting, try to deliver what is queued within `timeout`, stop the worker."""
        if not self.active or self._closed:
            return True
        self._closed = True
        self._accepting = False
        worker = self._worker
        if worker is None:
            return True
        worker.deadline = self._monotonic() + max(0.0, timeout)
        worker.stop.set()
        self._queue.wake.set()
        worker.thread.join(max(0.0, timeout) + 0.05)
        return not worker.thread.is_alive()

    # -- reading the state ---------------------------------------------------------------------------

    def signals_dropped(self) -> dict[str, int]:
        if not self.active:
            return dict.fromkeys(reasons.DROP_REASONS, 0)
        return self._counters.dropped()

    def stats(self) -> dict[str, Any]:
        """Counters and state for dashboards and debugging: cheap, safe from any thread."""
        out: dict[str, Any] = {
            "enabled": self.active,
            "producer": self.settings.producer,
            "delivered": 0,
            "queued": 0,
            "signals_dropped": self.signals_dropped(),
            "circuit": "closed",
            "control": dataclasses.asdict(self._control_state),
        }
        if self.active:
            out.update(delivered=self._counters.delivered, queued=len(self._queue), circuit=self._circuit.state)
        return out

    def kafka_headers(self, traceparent: str | None = None) -> list[tuple[str, bytes]]:
        """Identity hints for a Kafka record, as (name, bytes) pairs; empty while off or killed."""
        if not self._accepting or not self.settings.producer:
            return []
        headers = [("autopilot-producer", self.settings.producer.encode())]
        if self.settings.env:
            headers.append(("autopilot-env", self.settings.env.encode()))
        if self.settings.version:
            headers.append(("autopilot-version", self.settings.version.encode()))
        if traceparent is None:
            context = _current.get()
            traceparent = context.traceparent if context is not None else None
        if traceparent:
            headers.append(("traceparent", traceparent.encode()))
        return headers

    # -- internals ---------------------------------------------------------------------------------

    def _start_worker(self) -> None:
        with self._worker_lock:
            if self._worker is not None or self._closed:
                return
            settings = self.settings
            control = None
            if settings.producer:
                control = ControlPlane(
                    self._transport,
                    settings.endpoint or "",
                    settings.producer,
                    settings.token,
                    env=settings.env,
                    poll_interval=settings.control_poll_interval,
                    connect_timeout=settings.connect_timeout,
                    timeout=settings.timeout,
                    clock=self._monotonic,
                    problems=self._problems,
                    initial=self._control_state,
                )
            worker = Worker(
                settings,
                self._queue,
                self._counters,
                self._transport,
                self._circuit,
                control,
                self._problems,
                self._monotonic,
                self._on_control,
                self._report_health,
            )
            worker.sending = self._control_state.sending
            worker.start()
            self._worker = worker

    def _on_control(self, state: ControlState) -> None:
        self._control_state = state
        self._killed = not state.sending
        self._accepting = state.sending and not self._closed

    def _report_health(self) -> None:
        """Queue one SdkHealth event (CONTRACT.md section 15): this process's counters since it started, the queue
        and the circuit. Called by the worker only; a full queue drops it like any event."""
        from . import __version__

        settings = self.settings
        data: dict[str, Any] = {
            "language": "python",
            "sdk_version": __version__,
            "instance": self._instance,
            "delivered": self._counters.delivered,
            "dropped": self._counters.dropped(),
            "queue_depth": len(self._queue),
            "queue_capacity": settings.queue_size,
            "circuit": self._circuit.state,
            "interval_s": settings.health_interval,
        }
        if settings.env:
            data["env"] = settings.env
        item = (self._monotonic(), self._clock(), "SdkHealth", data, None, None, None, None, None, None)
        if not self._queue.put(item):
            self._counters.drop(reasons.QUEUE_FULL)

    def _send_startup_event(self) -> None:
        global _startup_sent
        settings = self.settings
        if not settings.startup_event or not (settings.producer or "").startswith("svc://"):
            return
        with _startup_lock:
            if _startup_sent:
                return
            _startup_sent = True
        event = startup_deployment(settings)
        if event is not None:
            self.emit("DeploymentEvent", event)

    def _after_fork_in_child(self) -> None:
        if not self.active:
            return
        # Locks may have been held by threads that do not exist in the child; rebuild them. The
        # worker is restarted by the child's first emit(), not here (no thread starts in a fork hook).
        self._queue.reset_after_fork()
        self._counters.reset_after_fork()
        self._problems.reset_after_fork()
        self._worker_lock = threading.Lock()
        self._instance = new_event_id()[:16]
        self._worker = None

    def _exit(self) -> None:
        if self.active and not self._closed:
            self.shutdown(self.settings.shutdown_timeout)


def _install_process_hooks(client: Client) -> None:
    global _hooks_installed
    _clients.add(client)
    with _hooks_lock:
        if _hooks_installed:
            return
        _hooks_installed = True
    atexit.register(_at_exit)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork)


def _at_exit() -> None:
    for client in list(_clients):
        with contextlib.suppress(Exception):  # exit must go on whatever one client does
            client._exit()


def _after_fork() -> None:
    global _hooks_lock, _startup_lock
    _hooks_lock, _startup_lock = threading.Lock(), threading.Lock()
    reseed_after_fork()
    for client in list(_clients):
        client._after_fork_in_child()
