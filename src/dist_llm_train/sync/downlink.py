"""Compressed downlink: the server sends each worker a compressed delta to that worker's replica.

The server keeps a mirror of what each worker holds; it encodes (params - mirror), the worker adds
the decoded delta to its replica, and the server adds the same decoded delta to its mirror. What
the codec dropped stays in (params - mirror) and is sent later: error feedback on the way down,
without the worker ever drifting from what the server believes it has.

The mirror also remembers the server version each replica stands for, so that a pull that says
"I hold version v" gets a delta only when the mirror's replica is that very version.
"""

from __future__ import annotations

import torch

from dist_llm_train.compression.base import Codec, Encoded


class DownlinkMirror:
    """Per-worker mirrors plus two scratch vectors; at 124M parameters each is 0.5 GB, so nothing
    here allocates a vector per pull: the delta and its decoded form reuse the scratch vectors, and
    a forgotten worker's mirror is kept for the next worker that starts."""

    def __init__(self, codec: Codec):
        self.codec = codec
        self.replicas: dict[int, torch.Tensor] = {}
        self.versions: dict[int, int | None] = {}  # the server version each replica was last brought to
        self._spare: list[torch.Tensor] = []
        self._delta: torch.Tensor | None = None
        self._decoded: torch.Tensor | None = None

    def has_replica(self, worker_id: int, version: int | None = None) -> bool:
        """Whether the mirror holds this worker's replica (at `version`, when one is given)."""
        if worker_id not in self.replicas:
            return False
        return version is None or self.versions.get(worker_id) == version

    def start(self, worker_id: int, params: torch.Tensor, version: int | None = None) -> torch.Tensor:
        """The worker received a full dense copy (first join, or after a restart)."""
        rep = self.replicas.get(worker_id)
        if rep is None or rep.shape != params.shape:
            rep = next((t for t in self._spare if t.shape == params.shape), None)
            if rep is not None:
                self._spare.remove(rep)
            else:
                rep = torch.empty_like(params, dtype=torch.float32)
        rep.copy_(params.detach())
        self.replicas[worker_id] = rep
        self.versions[worker_id] = version
        return rep

    def encode_for(self, worker_id: int, params: torch.Tensor,
                   version: int | None = None) -> tuple[Encoded, torch.Tensor]:
        """Encode the delta for this worker and advance its mirror; returns (message, new replica)."""
        rep = self.replicas[worker_id]
        if self._delta is None or self._delta.shape != params.shape:
            self._delta = torch.empty_like(rep)
            self._decoded = torch.empty_like(rep)
        enc = self.codec.encode(torch.sub(params, rep, out=self._delta))  # the codec copies what it keeps
        rep.add_(self.codec.decode(enc, out=self._decoded))
        self.versions[worker_id] = version
        return enc, rep

    def forget(self, worker_id: int) -> None:
        """A worker that lost its state (restart) gets a fresh full download next time."""
        rep = self.replicas.pop(worker_id, None)
        self.versions.pop(worker_id, None)
        if rep is not None and len(self._spare) < 2:
            self._spare.append(rep)
