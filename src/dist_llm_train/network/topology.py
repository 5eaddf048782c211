"""Topologies: the set of workers and their links, from presets or the config's `network` section.

`workers: N` with a preset spreads N workers round-robin over the preset's regions, so
`multi-region` with 16 workers puts 4 in each of us-east, eu-west, asia-pacific and edge-device.
"""

from __future__ import annotations

from dataclasses import dataclass

from dist_llm_train.errors import ConfigError
from dist_llm_train.network.link import HARDWARE_PROFILES, REFERENCE_PROFILE, Link

# name -> list of region dicts in the same shape as the config's `network.workers` entries
PRESETS: dict[str, list[dict]] = {
    "lan": [{"name": "lan", "bandwidth": 10000.0, "latency": 0.1}],
    "multi-region": [
        {"name": "us-east", "bandwidth": 1000.0, "latency": 50.0},
        {"name": "eu-west", "bandwidth": 500.0, "latency": 150.0},
        {"name": "asia-pacific", "bandwidth": 100.0, "latency": 300.0},
        {"name": "edge-device", "bandwidth": 10.0, "latency": 500.0},
    ],
}


def available_topologies() -> list[str]:
    return sorted(PRESETS)


@dataclass
class Topology:
    links: list[Link]

    def __len__(self) -> int:
        return len(self.links)

    def __getitem__(self, i: int) -> Link:
        return self.links[i]

    @property
    def regions(self) -> list[str]:
        return sorted({lk.region for lk in self.links})


def _link_from_entry(entry: dict, name: str) -> Link:
    bw = entry.get("bandwidth")
    up = entry.get("bandwidth_up") or bw
    down = entry.get("bandwidth_down") or bw
    hw = entry.get("hardware")
    if hw is not None:
        if hw not in HARDWARE_PROFILES:
            raise ConfigError(
                f"network.workers: unknown hardware profile {hw!r}; allowed: {', '.join(sorted(HARDWARE_PROFILES))}"
            )
        flops = HARDWARE_PROFILES[hw]
    else:
        flops = HARDWARE_PROFILES[REFERENCE_PROFILE] * float(entry.get("speed", 1.0))
    return Link(
        name=name,
        region=entry["name"],
        bandwidth_up=float(up),
        bandwidth_down=float(down),
        latency_ms=float(entry.get("latency", 0.0)),
        jitter_ms=float(entry.get("jitter", 0.0)),
        loss=float(entry.get("loss", 0.0)),
        flops=flops,
    )


def build_topology(network_cfg) -> Topology:
    """Links for every worker from a NetworkConfig (see config/schema.py)."""
    if network_cfg.workers:
        regions = [w.model_dump() for w in network_cfg.workers]
        links = []
        if network_cfg.num_workers is not None:
            return _spread(regions, network_cfg.num_workers)
        for r in regions:
            for i in range(r.get("count", 1)):
                name = r["name"] if r.get("count", 1) == 1 else f"{r['name']}-{i}"
                links.append(_link_from_entry(r, name))
        return Topology(links)
    preset = network_cfg.preset or "lan"
    if preset not in PRESETS:
        raise ConfigError(f"network.preset: unknown topology {preset!r}; allowed: {', '.join(PRESETS)}, custom")
    n = network_cfg.num_workers or len(PRESETS[preset])
    return _spread(PRESETS[preset], n)


def _spread(regions: list[dict], n: int) -> Topology:
    counts = {r["name"]: 0 for r in regions}
    links = []
    for i in range(n):
        r = regions[i % len(regions)]
        links.append(_link_from_entry(r, f"{r['name']}-{counts[r['name']]}"))
        counts[r["name"]] += 1
    return Topology(links)
