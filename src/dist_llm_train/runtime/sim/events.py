"""The event queue of the simulator: a heap ordered by (virtual time, sequence number).

The sequence number breaks ties in insertion order, so two runs with the same seed process
events in exactly the same order and produce identical logs.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any


@dataclass(order=True)
class Event:
    time: float
    seq: int
    kind: str = field(compare=False)
    worker: int = field(compare=False)
    payload: Any = field(compare=False, default=None)


class EventQueue:
    def __init__(self):
        self._heap: list[Event] = []
        self._seq = 0

    def push(self, time: float, kind: str, worker: int, payload: Any = None) -> None:
        heapq.heappush(self._heap, Event(time, self._seq, kind, worker, payload))
        self._seq += 1

    def pop(self) -> Event:
        return heapq.heappop(self._heap)

    def __len__(self) -> int:
        return len(self._heap)
