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
    def __init__(self, codec: Codec):
        self.codec = codec
        self.replicas: dict[int, torch.Tensor] = {}
        self.versions: dict[int, int | None] = {}  # the server version each replica was last brought to

    def has_replica(self, worker_id: int, version: int | None = None) -> bool:
        """Whether the mirror holds this worker's replica (at `version`, when one is given)."""
        if worker_id not in self.replicas:
            return False
        return version is None or self.versions.get(worker_id) == version

    def start(self, worker_id: int, params: torch.Tensor, version: int | None = None) -> torch.Tensor:
        """The worker received a full dense copy (first join, or after a restart)."""
        self.replicas[worker_id] = params.detach().clone()
        self.versions[worker_id] = version
        return self.replicas[worker_id]

    def encode_for(self, worker_id: int, params: torch.Tensor,
                   version: int | None = None) -> tuple[Encoded, torch.Tensor]:
        """Encode the delta for this worker and advance its mirror; returns (message, new replica)."""
        rep = self.replicas[worker_id]
        enc = self.codec.encode(params - rep)
        rep.add_(self.codec.decode(enc))
        self.versions[worker_id] = version
        return enc, rep

    def forget(self, worker_id: int) -> None:
        """A worker that lost its state (restart) gets a fresh full download next time."""
        self.replicas.pop(worker_id, None)
        self.versions.pop(worker_id, None)
