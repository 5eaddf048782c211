"""Per-worker accounting: what each worker sent, what was accepted or rejected and why, how stale
its updates were, and how the aggregator treated it against the ground truth of who is Byzantine.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class WorkerStats:
    worker_id: int
    byzantine: bool = False
    submitted: int = 0
    accepted: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason -> count
    staleness: Counter = field(default_factory=Counter)  # tau -> count (accepted and rejected)
    accepted_staleness: Counter = field(default_factory=Counter)  # tau -> count of the accepted ones
    bytes_up: int = 0
    bytes_down: int = 0
    samples: int = 0
    aggregations: int = 0  # flushes this worker took part in
    filtered: int = 0  # flushes in which the aggregator gave it trust below the threshold
    trust_sum: float = 0.0
    compute_time: float = 0.0  # seconds spent computing updates (virtual in the simulator, reported over gRPC)

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.submitted if self.submitted else 0.0

    def to_json(self) -> dict:
        return {
            "worker_id": self.worker_id,
            "byzantine": self.byzantine,
            "submitted": self.submitted,
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "acceptance_rate": self.acceptance_rate,
            "staleness_hist": {str(k): v for k, v in sorted(self.staleness.items())},
            "accepted_staleness_hist": {str(k): v for k, v in sorted(self.accepted_staleness.items())},
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
            "samples": self.samples,
            "aggregations": self.aggregations,
            "filtered": self.filtered,
            "mean_trust": self.trust_sum / self.aggregations if self.aggregations else None,
            "compute_time": self.compute_time,
        }

    @classmethod
    def from_json(cls, d: dict) -> WorkerStats:
        s = cls(worker_id=int(d["worker_id"]), byzantine=bool(d["byzantine"]))
        s.submitted, s.accepted = int(d["submitted"]), int(d["accepted"])
        s.rejected = Counter(d["rejected"])
        s.staleness = Counter({int(k): v for k, v in d["staleness_hist"].items()})
        s.accepted_staleness = Counter({int(k): v for k, v in d.get("accepted_staleness_hist", {}).items()})
        s.bytes_up, s.bytes_down, s.samples = int(d["bytes_up"]), int(d["bytes_down"]), int(d["samples"])
        s.aggregations, s.filtered = int(d["aggregations"]), int(d["filtered"])
        s.trust_sum = float(d["mean_trust"] or 0.0) * s.aggregations
        s.compute_time = float(d.get("compute_time", 0.0))
        return s


def filtering_summary(stats: list[WorkerStats]) -> dict:
    """Byzantine filtering scored against ground truth, counted per aggregation a worker was in.

    true positives: a Byzantine input filtered; false positives: an honest input filtered.
    """
    byz = [s for s in stats if s.byzantine]
    honest = [s for s in stats if not s.byzantine]
    byz_in = sum(s.aggregations for s in byz)
    hon_in = sum(s.aggregations for s in honest)
    tp = sum(s.filtered for s in byz)
    fp = sum(s.filtered for s in honest)
    return {
        "byzantine_inputs": byz_in,
        "honest_inputs": hon_in,
        "true_positives": tp,
        "false_positives": fp,
        "detection_rate": tp / byz_in if byz_in else None,
        "false_positive_rate": fp / hon_in if hon_in else 0.0,
    }


def summarize_stats(stats: list[WorkerStats], flushes: int) -> dict:
    """The coordinator's summary (acceptance, bytes, filtering, per-worker records) from its stats."""
    submitted = sum(s.submitted for s in stats)
    accepted = sum(s.accepted for s in stats)
    return {
        "flushes": flushes,
        "submitted": submitted,
        "accepted": accepted,
        "acceptance_rate": accepted / submitted if submitted else 0.0,
        "bytes_up": sum(s.bytes_up for s in stats),
        "bytes_down": sum(s.bytes_down for s in stats),
        "filtering": filtering_summary(stats),
        "workers": [s.to_json() for s in stats],
    }
