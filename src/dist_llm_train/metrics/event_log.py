"""The run's event stream: one JSON object per line in the run directory.

Every sink (Prometheus, TensorBoard, W&B, MLflow, the final report) reads the same stream, so what
a dashboard shows and what the report says can never disagree.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import IO, Any


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


#: events written through to the file at once (the others are buffered: a step writes several)
FLUSHED = ("eval", "checkpoint")


class EventLog:
    def __init__(self, path: str | Path | None, sinks: list | None = None):
        self.path = Path(path) if path else None
        self._fh: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("w")
        self.sinks = list(sinks or [])
        self.count = 0

    def write(self, event: dict) -> None:
        event = _clean(event)
        self.count += 1
        if self._fh is not None:
            self._fh.write(json.dumps(event, separators=(",", ":"), sort_keys=True) + "\n")
            if event.get("event") in FLUSHED:
                self._fh.flush()  # someone following the run sees each evaluation as it happens
        for sink in self.sinks:
            sink.handle(event)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        for sink in self.sinks:
            close = getattr(sink, "close", None)
            if close:
                close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_events(path: str | Path) -> list[dict]:
    with Path(path).open() as fh:
        return [json.loads(line) for line in fh if line.strip()]
