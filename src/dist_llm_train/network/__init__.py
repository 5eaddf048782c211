"""Per-worker WAN links (bandwidth, latency, jitter, loss, compute speed) and topologies."""

from dist_llm_train.network.link import HARDWARE_PROFILES, REFERENCE_PROFILE, Link
from dist_llm_train.network.topology import PRESETS, Topology, available_topologies, build_topology

__all__ = [
    "Link", "Topology", "build_topology", "available_topologies", "PRESETS", "HARDWARE_PROFILES",
    "REFERENCE_PROFILE",
]
