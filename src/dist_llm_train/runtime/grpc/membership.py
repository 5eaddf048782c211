"""Which workers are alive: heartbeats for liveness, observed step time for progress.

Two deadlines, both derived from what the server observes rather than hand-tuned:
- liveness: no call at all (heartbeats arrive every `heartbeat_interval`) for
  max(floor, misses x heartbeat_interval): the process or its link is gone;
- progress: no push for max(floor, k x the worker's EMA step interval) since it last received
  parameters, while the run is RUNNING: the process is alive but stuck. A worker whose pull is
  waiting on the server (a sync barrier, a paused run) is not expected to progress. Until a worker
  has pushed twice there is no interval yet, and a start-up grace (model build, data
  preparation) applies instead.
A dropped worker is deactivated in the coordinator (n shrinks); the caller then re-checks the
aggregator's precondition. A worker that calls again re-registers and is counted again.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Member:
    worker_id: int
    host: str
    registered_at: float
    last_seen: float
    last_push: float | None = None
    last_pull: float | None = None
    waiting: bool = False  # its last pull is waiting for the server (or came back NOT_READY)
    phase: str = "registered"


@dataclass
class LivenessPolicy:
    heartbeat_interval: float = 1.0
    misses: float = 5.0
    step_multiplier: float = 5.0
    floor_seconds: float = 10.0
    startup_grace: float = 600.0

    def liveness_deadline(self) -> float:
        return max(self.floor_seconds, self.misses * self.heartbeat_interval)

    def progress_deadline(self, ema_interval: float | None) -> float:
        if ema_interval is None:
            return max(self.floor_seconds, self.startup_grace)
        return max(self.floor_seconds, self.step_multiplier * ema_interval)


class Membership:
    def __init__(self, coordinator, policy: LivenessPolicy):
        self.coord = coordinator
        self.policy = policy
        self.members: dict[int, Member] = {}
        self.dropped: dict[int, str] = {}  # worker id -> why (until it registers again)
        self.running_since: float | None = None

    @property
    def active(self) -> list[int]:
        return sorted(self.members)

    def register(self, worker_id: int, now: float, host: str = "") -> None:
        self.coord.register(worker_id, now)
        self.members[worker_id] = Member(worker_id, host, now, now)
        self.dropped.pop(worker_id, None)

    def is_member(self, worker_id: int) -> bool:
        return worker_id in self.members

    def seen(self, worker_id: int, now: float, phase: str | None = None) -> None:
        m = self.members.get(worker_id)
        if m is not None:
            m.last_seen = now
            if phase:
                m.phase = phase

    def waiting(self, worker_id: int, now: float) -> None:
        m = self.members.get(worker_id)
        if m is not None:
            m.last_seen, m.waiting = now, True

    def pulled(self, worker_id: int, now: float) -> None:
        m = self.members.get(worker_id)
        if m is not None:
            m.last_seen = m.last_pull = now
            m.waiting = False

    def pushed(self, worker_id: int, now: float) -> None:
        m = self.members.get(worker_id)
        if m is not None:
            m.last_seen = m.last_push = now

    def set_running(self, running: bool, now: float) -> None:
        """Progress is only expected while the run is RUNNING; the clock restarts on each resume."""
        self.running_since = now if running else None

    def expired(self, now: float) -> list[tuple[int, str]]:
        """Workers past a deadline, with the reason (does not change anything)."""
        out = []
        live = self.policy.liveness_deadline()
        for wid, m in self.members.items():
            if now - m.last_seen > live:
                out.append((wid, f"no heartbeat for {now - m.last_seen:.1f} s (deadline {live:.1f} s)"))
                continue
            if self.running_since is None or m.waiting:
                continue
            ema = self.coord.intervals.ema.get(wid) if m.last_push is not None else None
            limit = self.policy.progress_deadline(ema)
            since = max(m.last_push if m.last_push is not None else m.registered_at, m.last_pull or 0.0,
                        self.running_since)
            if now - since > limit:
                basis = f"{self.policy.step_multiplier:g} x its step interval {ema:.2f} s" if ema else "start-up grace"
                out.append((wid, f"no update for {now - since:.1f} s (deadline {limit:.1f} s = {basis})"))
        return out

    def drop(self, worker_id: int, reason: str) -> None:
        self.members.pop(worker_id, None)
        self.dropped[worker_id] = reason
        self.coord.deactivate(worker_id)
