"""ParamLayout: a model's parameters as one flat fp32 vector.

Every layer that moves or combines parameters (codecs, aggregators, the parameter server, the wire)
works on one contiguous vector, because one buffer is what fast kernels, chunked robust statistics
and a byte stream all want. The layout remembers names, shapes and offsets so that a state_dict can
be rebuilt exactly, and so that codecs needing matrices (PowerSGD) can find them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch

from dist_llm_train.errors import DecodeError


@dataclass(frozen=True)
class ParamSpec:
    """One named tensor inside the flat vector: elements [offset, offset + numel)."""

    name: str
    shape: tuple[int, ...]
    offset: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape) if self.shape else 1

    @property
    def end(self) -> int:
        return self.offset + self.numel

    @property
    def is_matrix(self) -> bool:
        """True when the tensor can be viewed as a 2-D matrix with both sides > 1 (PowerSGD's target)."""
        return len(self.shape) >= 2 and self.shape[0] > 1 and math.prod(self.shape[1:]) > 1

    def matrix_shape(self) -> tuple[int, int]:
        """The 2-D view used for low-rank codecs: first dim x the product of the rest."""
        return (self.shape[0], math.prod(self.shape[1:]))


class ParamLayout:
    """Ordered names, shapes and offsets of a model's parameters in one flat fp32 vector."""

    def __init__(self, specs: Iterable[tuple[str, tuple[int, ...]]]):
        self._specs: list[ParamSpec] = []
        offset = 0
        seen: set[str] = set()
        for name, shape in specs:
            if name in seen:
                raise ValueError(f"ParamLayout: parameter name {name!r} appears twice")
            seen.add(name)
            spec = ParamSpec(name=name, shape=tuple(int(s) for s in shape), offset=offset)
            self._specs.append(spec)
            offset = spec.end
        self._numel = offset
        self._by_name = {s.name: s for s in self._specs}

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_state_dict(cls, state: Mapping[str, torch.Tensor]) -> ParamLayout:
        return cls((name, tuple(t.shape)) for name, t in state.items())

    @classmethod
    def from_module(cls, module: torch.nn.Module) -> ParamLayout:
        """Layout of the module's trainable parameters (tied weights appear once, by first name)."""
        return cls((name, tuple(p.shape)) for name, p in module.named_parameters())

    # -- queries ------------------------------------------------------------------------------
    @property
    def numel(self) -> int:
        return self._numel

    @property
    def specs(self) -> list[ParamSpec]:
        return list(self._specs)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self._specs]

    def __len__(self) -> int:
        return len(self._specs)

    def __iter__(self):
        return iter(self._specs)

    def __getitem__(self, name: str) -> ParamSpec:
        return self._by_name[name]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParamLayout) and [(s.name, s.shape) for s in self._specs] == [
            (s.name, s.shape) for s in other._specs
        ]

    def __hash__(self) -> int:
        return hash(tuple((s.name, s.shape) for s in self._specs))

    def __repr__(self) -> str:
        return f"ParamLayout({len(self._specs)} tensors, {self._numel:,} elements)"

    def to_json(self) -> list[dict]:
        return [{"name": s.name, "shape": list(s.shape)} for s in self._specs]

    @classmethod
    def from_json(cls, items: list[dict]) -> ParamLayout:
        try:
            return cls((str(it["name"]), tuple(int(x) for x in it["shape"])) for it in items)
        except (KeyError, TypeError, ValueError) as exc:
            raise DecodeError(f"invalid ParamLayout description: {exc}") from exc

    # -- conversion ---------------------------------------------------------------------------
    def flatten(self, state: Mapping[str, torch.Tensor], out: torch.Tensor | None = None) -> torch.Tensor:
        """Copy tensors (by name) into one fp32 vector; `out` is reused when given."""
        missing = [s.name for s in self._specs if s.name not in state]
        if missing:
            raise KeyError(f"state is missing {len(missing)} parameters of the layout, e.g. {missing[:3]}")
        if out is None:
            out = torch.empty(self._numel, dtype=torch.float32)
        elif out.numel() != self._numel:
            raise ValueError(f"out has {out.numel()} elements, layout needs {self._numel}")
        for s in self._specs:
            t = state[s.name]
            if tuple(t.shape) != s.shape:
                raise ValueError(f"parameter {s.name!r} has shape {tuple(t.shape)}, layout says {s.shape}")
            out[s.offset : s.end].copy_(t.detach().reshape(-1))
        return out

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views (no copy) of the flat vector, one per parameter, with the original shapes."""
        self.check_flat(flat)
        return {s.name: flat[s.offset : s.end].view(s.shape) for s in self._specs}

    def flatten_module(self, module: torch.nn.Module, out: torch.Tensor | None = None) -> torch.Tensor:
        return self.flatten(dict(module.named_parameters()), out)

    def flatten_grads(self, module: torch.nn.Module, out: torch.Tensor | None = None) -> torch.Tensor:
        """The module's .grad tensors as one vector (a missing grad counts as zeros)."""
        if out is None:
            out = torch.empty(self._numel, dtype=torch.float32)
        params = dict(module.named_parameters())
        for s in self._specs:
            g = params[s.name].grad
            if g is None:
                out[s.offset : s.end].zero_()
            else:
                out[s.offset : s.end].copy_(g.reshape(-1))
        return out

    @torch.no_grad()
    def load_into_module(self, module: torch.nn.Module, flat: torch.Tensor) -> None:
        """Copy the flat vector into the module's parameters in place."""
        self.check_flat(flat)
        params = dict(module.named_parameters())
        for s in self._specs:
            params[s.name].copy_(flat[s.offset : s.end].view(s.shape))

    def check_flat(self, flat: torch.Tensor) -> None:
        if flat.dim() != 1 or flat.numel() != self._numel:
            raise ValueError(
                f"flat vector has shape {tuple(flat.shape)}, this layout needs a 1-D vector of {self._numel}"
            )

    def matrices(self) -> list[ParamSpec]:
        return [s for s in self._specs if s.is_matrix]
