"""Error feedback: the sender keeps what compression dropped and adds it to the next update.

ef.encode(x_t): c = x_t + e_(t-1); send C(c); e_t = c - D(C(c)). Summing over steps,
sum_t D(C(c_t)) + e_T = sum_t x_t exactly (up to float rounding), so nothing a biased codec
drops (top-k's small entries, sign's magnitudes, PowerSGD's other directions) is lost, only
delayed (Seide et al. 2014; Karimireddy et al. 2019; Stich et al. 2018). The residual lives on
the sender only; it is part of the worker's checkpoint (`state_dict`, tensors only, so it can be
saved as safetensors).
"""

from __future__ import annotations

import torch

from dist_llm_train.compression.base import Codec, Encoded
from dist_llm_train.compression.wire import check_input
from dist_llm_train.scratch import ScratchVectors


class ErrorFeedback:
    def __init__(self, codec: Codec, scratch: ScratchVectors | None = None):
        """scratch: where the corrected input and the decoded message live between the two halves of
        one encode; a pool shared by workers that encode in turn (the simulator's) saves two
        model-sized vectors a worker. The residual is always this sender's own."""
        self.codec = codec
        self.residual: torch.Tensor | None = None
        self.scratch = scratch if scratch is not None else ScratchVectors()

    @property
    def spec(self) -> str:
        return self.codec.spec

    def encode(self, flat: torch.Tensor) -> Encoded:
        check_input(flat, f"error feedback over {self.codec.spec}")
        n = flat.numel()
        if self.residual is None or self.residual.numel() != n:
            if self.residual is not None:
                raise ValueError(f"error feedback residual has {self.residual.numel()} entries, the update {n}; "
                                 "call reset() when the model changes")
            self.residual = torch.zeros(n)
        corrected = torch.add(flat, self.residual, out=self.scratch.get("ef.corrected", n))
        enc = self.codec.encode(corrected)
        decoded = self.codec.decode(enc, out=self.scratch.get("ef.decoded", n))
        torch.sub(corrected, decoded, out=self.residual)
        return enc

    def reset(self) -> None:
        self.residual = None

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {f"codec.{k}": v for k, v in self.codec.state_dict().items()}
        if self.residual is not None:
            state["residual"] = self.residual.clone()
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        unknown = [k for k in state if k != "residual" and not k.startswith("codec.")]
        if unknown:
            raise ValueError(f"error feedback state: unexpected keys {unknown[:5]}")
        res = state.get("residual")
        if res is not None and (res.dtype != torch.float32 or res.dim() != 1):
            raise ValueError(f"error feedback residual must be a 1-D float32 tensor, got {res.dtype} "
                             f"{tuple(res.shape)}")
        self.residual = None if res is None else res.clone()
        self.codec.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("codec.")})
