"""Compressed downlink: the server sends each worker a compressed delta to that worker's replica.

The server keeps a mirror of what each worker holds; it encodes (params - mirror), the worker adds
the decoded delta to its replica, and the server adds the same decoded delta to its mirror. What
the codec dropped stays in (params - mirror) and is sent later: error feedback on the way down,
without the worker ever drifting from what the server believes it has.
"""

from __future__ import annotations

import torch

from dist_llm_train.compression.base import Codec, Encoded


class DownlinkMirror:
    def __init__(self, codec: Codec):
        self.codec = codec
        self.replicas: dict[int, torch.Tensor] = {}

    def has_replica(self, worker_id: int) -> bool:
        return worker_id in self.replicas

    def start(self, worker_id: int, params: torch.Tensor) -> torch.Tensor:
        """The worker received a full dense copy (first join, or after a restart)."""
        self.replicas[worker_id] = params.detach().clone()
        return self.replicas[worker_id]

    def encode_for(self, worker_id: int, params: torch.Tensor) -> tuple[Encoded, torch.Tensor]:
        """Encode the delta for this worker and advance its mirror; returns (message, new replica)."""
        rep = self.replicas[worker_id]
        enc = self.codec.encode(params - rep)
        rep.add_(self.codec.decode(enc))
        return enc, rep

    def forget(self, worker_id: int) -> None:
        """A worker that lost its state (restart) gets a fresh full download next time."""
        self.replicas.pop(worker_id, None)
