"""RunResult: everything a finished run measured, as one JSON-able record.

The validation report, the golden-result check and `dist-llm-train train`'s summary table are all
made from this record (and the event log next to it), never from live objects.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class RunResult:
    name: str
    run_dir: str | None
    config: dict
    kind: str  # causal | mlm
    model: str
    num_params: int
    num_workers: int
    worker_names: list[str]
    worker_regions: list[str]
    byzantine_ids: list[int]
    server_steps: int
    virtual_time: float
    wall_time: float
    stopped_by: str
    curve: list[dict]
    final: dict
    summary: dict  # coordinator summary: acceptance, bytes, filtering, per-worker stats
    utilization: list[float]
    wall_breakdown: dict
    extra: dict = field(default_factory=dict)

    @property
    def final_loss(self) -> float | None:
        return self.final.get("loss")

    @property
    def acceptance_rate(self) -> float:
        return self.summary["acceptance_rate"]

    @property
    def bytes_up(self) -> int:
        return self.summary["bytes_up"]

    @property
    def bytes_down(self) -> int:
        return self.summary["bytes_down"]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> RunResult:
        return cls(**d)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1, sort_keys=True))

    @classmethod
    def load(cls, path: str | Path) -> RunResult:
        return cls.from_json(json.loads(Path(path).read_text()))
