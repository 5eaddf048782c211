"""Two-stage codecs `A+B`: a selector A picks what to send, a dense codec B encodes the values.

`topk:0.01+fp16` = top-k picks k indices and values, fp16 sends the values; `powersgd:4+bf16` =
PowerSGD's P and Q factors sent in bf16; `topk:0.01` alone sends the values in fp32. Keeping the
two stages apart (as GRACE separates its compressor from its communicator) means every selector
works with every value codec, and each is tested once.

Payload: side length u64, side information (indices, a seed, nothing), then B's payload for the
values. The value count comes from the side information (or the layout), never from a field
B could lie about on its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch

from dist_llm_train.compression.base import Codec, Encoded
from dist_llm_train.compression.dense import DenseCodec, check_spec
from dist_llm_train.compression.identity import IdentityCodec
from dist_llm_train.compression.wire import PayloadPool, PayloadReader, check_input, pack_u64, prepare_out


class Selector(ABC):
    """First stage: turn a flat vector into side information plus a dense vector of values."""

    name: str = ""

    @property
    @abstractmethod
    def spec(self) -> str: ...

    @abstractmethod
    def select(self, flat: torch.Tensor) -> tuple[bytes, torch.Tensor]:
        """Side-information bytes and the fp32 values to send."""

    @abstractmethod
    def parse(self, side: memoryview, numel: int) -> tuple[Any, int]:
        """Validate side information; return what `expand` needs and the number of values."""

    @abstractmethod
    def expand(self, plan: Any, values: torch.Tensor, numel: int, out: torch.Tensor) -> torch.Tensor:
        """Write the decoded vector into `out`."""

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state:
            raise ValueError(f"{self.spec} keeps no state, got keys {sorted(state)[:5]}")


class ComposedCodec(Codec):
    def __init__(self, selector: Selector, values: DenseCodec | None = None):
        self.selector = selector
        self.values = values if values is not None else IdentityCodec()
        self.name = selector.name
        self._pool = PayloadPool()

    @property
    def spec(self) -> str:
        if isinstance(self.values, IdentityCodec):
            return self.selector.spec
        return f"{self.selector.spec}+{self.values.spec}"

    def encode(self, flat: torch.Tensor) -> Encoded:
        check_input(flat, self.spec)
        side, vals = self.selector.select(flat)
        head = pack_u64(len(side)) + side
        dst = self._pool.take(len(head) + self.values.payload_nbytes(vals.numel()))
        dst[: len(head)] = memoryview(head)
        self.values.encode_into(vals, dst[len(head) :])
        return Encoded(spec=self.spec, numel=flat.numel(), payload=memoryview(dst).toreadonly(),
                       meta={"values": vals.numel()})

    def _parse(self, enc: Encoded):
        """(selector plan, decoded values) after every check of the payload's structure."""
        check_spec(enc, self.spec)
        r = PayloadReader(enc.payload, f"{self.spec} payload")
        side = r.take(r.u64())
        plan, n_values = self.selector.parse(side, enc.numel)
        raw = r.take(self.values.payload_nbytes(n_values))
        r.finish()
        return plan, self.values.decode_from(raw, n_values, torch.empty(n_values))

    def decode(self, enc: Encoded, out: torch.Tensor | None = None) -> torch.Tensor:
        plan, vals = self._parse(enc)
        return self.selector.expand(plan, vals, enc.numel, prepare_out(out, enc.numel))

    def decode_sparse(self, enc: Encoded) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(indices, values) without expanding to a dense vector, for selectors whose plan is a
        checked index set (top-k); None for the others. Same checks as `decode`."""
        if not getattr(self.selector, "sparse", False):
            return None
        return self._parse(enc)

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {f"selector.{k}": v for k, v in self.selector.state_dict().items()}
        state.update({f"values.{k}": v for k, v in self.values.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        unknown = [k for k in state if not k.startswith(("selector.", "values."))]
        if unknown:
            raise ValueError(f"{self.spec}: unexpected state keys {unknown[:5]}")
        self.selector.load_state_dict({k[9:]: v for k, v in state.items() if k.startswith("selector.")})
        self.values.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("values.")})
