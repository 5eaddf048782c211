"""Reusable buffers for the payloads the service moves: receive buffers, decode slots, snapshots.

A 124M-parameter model makes every payload hundreds of MB. A fresh allocation of that size is a
fresh mmap whose pages fault in one by one on first touch, which costs more here than copying the
bytes; so the service leases buffers from these pools and gives them back when the call ends.
Leases are explicit (context managers or `release()`), never tied to garbage collection, and a
pool that runs dry allocates a transient buffer instead of waiting or sharing: reuse is a speed-up,
never a correctness condition.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch


class ByteBuffers:
    """Writable byte buffers of varying size (one per push being received), kept for reuse."""

    def __init__(self, keep: int = 4):
        self.keep = keep
        self._free: list[bytearray] = []
        self._lock = threading.Lock()
        self.allocated = 0  # fresh buffers made (the tests check that steady state makes none)

    @contextmanager
    def lease(self, nbytes: int) -> Iterator[memoryview]:
        """A writable view of exactly nbytes; its contents are whatever the last user left."""
        if nbytes < 0:
            raise ValueError(f"cannot lease {nbytes} bytes")
        buf = self._take(nbytes)
        view = memoryview(buf)[:nbytes]
        try:
            yield view
        finally:
            view.release()
            self._give(buf)

    def _take(self, nbytes: int) -> bytearray:
        with self._lock:
            fits = [b for b in self._free if len(b) >= nbytes]
            if fits:
                best = min(fits, key=len)
                self._free.remove(best)
                return best
            self.allocated += 1
        return bytearray(nbytes)

    def _give(self, buf: bytearray) -> None:
        with self._lock:
            self._free.append(buf)
            if len(self._free) > self.keep:
                self._free.remove(min(self._free, key=len))


class TensorSlots:
    """At most `slots` fp32 vectors of `numel` entries in use at once (decode targets).

    Decoding a dense update is memory-bound work: on a few cores, more concurrent decodes than
    slots only add 0.5 GB vectors (at 124M parameters) without finishing sooner, so callers wait
    for a free slot instead.
    """

    def __init__(self, numel: int, slots: int = 2):
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        self.numel = numel
        self._sem = threading.BoundedSemaphore(slots)
        self._free: list[torch.Tensor] = []
        self._lock = threading.Lock()
        self.allocated = 0

    @contextmanager
    def lease(self) -> Iterator[torch.Tensor]:
        with self._sem:
            t = self._take()
            try:
                yield t
            finally:
                self._give(t)

    @contextmanager
    def try_lease(self) -> Iterator[torch.Tensor | None]:
        """A slot if one is free now, else None (never waits): for a push decoded while it is still
        arriving, which holds its slot for as long as the sender takes, so nobody may queue
        behind it; without a slot such a push is received whole and decoded as before."""
        if not self._sem.acquire(blocking=False):
            yield None
            return
        try:
            t = self._take()
            try:
                yield t
            finally:
                self._give(t)
        finally:
            self._sem.release()

    def _take(self) -> torch.Tensor:
        with self._lock:
            t = self._free.pop() if self._free else None
            if t is None:
                self.allocated += 1
        return torch.empty(self.numel, dtype=torch.float32) if t is None else t

    def _give(self, t: torch.Tensor) -> None:
        with self._lock:
            self._free.append(t)


class Snapshot:
    """A leased, read-only byte view of one snapshot; call release() when the stream is done."""

    def __init__(self, view: memoryview, pool: Snapshots | None, entry: list | None):
        self.view = view
        self._pool = pool
        self._entry = entry

    def release(self) -> None:
        if self._pool is not None:
            self._pool._release(self._entry)
            self._pool = None


class Snapshots:
    """Keyed byte snapshots shared by concurrent readers, e.g. the fp32 parameters of one version.

    `acquire(key, nbytes, fill)` returns the snapshot for key, filling a buffer with `fill(view)`
    only when no kept buffer holds that key. A buffer is refilled for another key only when no
    reader holds it, so a stream in progress never sees its bytes change. At most `keep` buffers
    are kept; beyond that a transient buffer serves the call.
    """

    def __init__(self, keep: int = 3):
        self.keep = keep
        self._entries: list[list] = []  # [buffer, key, readers]
        self._lock = threading.Lock()
        self.fills = 0

    def acquire(self, key, nbytes: int, fill: Callable[[memoryview], None]) -> Snapshot:
        with self._lock:
            for e in self._entries:
                if e[1] == key and len(e[0]) == nbytes:
                    e[2] += 1
                    return Snapshot(memoryview(e[0]).toreadonly(), self, e)
            idle = [e for e in self._entries if e[2] == 0]
            entry = next((e for e in idle if len(e[0]) == nbytes), None)
            if entry is None and len(self._entries) >= self.keep and idle:
                self._entries.remove(idle[0])  # a kept buffer of the wrong size: replace it
            if entry is None and len(self._entries) < self.keep:
                entry = [bytearray(nbytes), None, 0]
                self._entries.append(entry)
            if entry is not None:
                entry[1] = None  # being refilled: no other reader may match it until fill is done
                entry[2] = 1
        self.fills += 1
        if entry is None:  # every kept buffer is being read: serve this call from a transient one
            buf = bytearray(nbytes)
            fill(memoryview(buf))
            return Snapshot(memoryview(buf).toreadonly(), None, None)
        try:
            fill(memoryview(entry[0]))
        except BaseException:
            self._release(entry)
            raise
        with self._lock:
            entry[1] = key
        return Snapshot(memoryview(entry[0]).toreadonly(), self, entry)

    def _release(self, entry: list) -> None:
        with self._lock:
            entry[2] -= 1
