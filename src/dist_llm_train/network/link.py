"""A worker's link to the parameter server and its compute speed.

Transfer time is what a WAN costs: one-way latency, serialization at the link's bandwidth, jitter,
and packet loss paid as retransmissions (a lossy link moves 1/(1 - loss) times the bytes). Compute
time follows either a speed factor against the reference hardware or a named hardware profile, so
that a bigger model takes proportionally longer on the same worker.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Sustained fp32 training throughput (FLOP/s x utilization) of common hardware.
HARDWARE_PROFILES: dict[str, float] = {
    "a100": 19.5e12 * 0.5,  # fp32 non-tensor-core path; bf16 mixed precision is ~10x this
    "a100-bf16": 312e12 * 0.4,
    "h100-bf16": 990e12 * 0.4,
    "v100": 15.7e12 * 0.5,
    "t4": 8.1e12 * 0.4,
    "rtx3090": 35.6e12 * 0.4,
    "cpu-server": 2.0e12 * 0.3,
    "laptop-cpu": 0.3e12 * 0.3,
    "phone": 0.05e12 * 0.3,
}
REFERENCE_PROFILE = "t4"


@dataclass(frozen=True)
class Link:
    """One worker: name, region, link (Mbps, ms) and compute throughput."""

    name: str
    region: str
    bandwidth_up: float  # Mbps, worker -> server
    bandwidth_down: float  # Mbps, server -> worker
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    flops: float = HARDWARE_PROFILES[REFERENCE_PROFILE]  # sustained FLOP/s

    def __post_init__(self):
        if self.bandwidth_up <= 0 or self.bandwidth_down <= 0:
            raise ValueError(f"worker {self.name!r}: bandwidth must be > 0 Mbps")
        if not 0 <= self.loss < 1:
            raise ValueError(f"worker {self.name!r}: loss must be in [0, 1), got {self.loss}")
        if self.flops <= 0:
            raise ValueError(f"worker {self.name!r}: compute throughput must be > 0")

    @property
    def speed(self) -> float:
        """Compute speed relative to the reference hardware."""
        return self.flops / HARDWARE_PROFILES[REFERENCE_PROFILE]

    def transfer_time(self, nbytes: int, direction: str = "up", rng: random.Random | None = None) -> float:
        """Seconds to move `nbytes` over this link: latency + jitter + bytes / bandwidth, inflated by loss."""
        bw = self.bandwidth_up if direction == "up" else self.bandwidth_down
        serialization = nbytes * 8.0 / (bw * 1e6) / (1.0 - self.loss)
        latency = self.latency_ms / 1000.0
        if self.jitter_ms > 0 and rng is not None:
            latency = max(0.0, latency + rng.gauss(0.0, self.jitter_ms / 1000.0))
        return latency + serialization

    def compute_time(self, flops: float) -> float:
        return flops / self.flops
