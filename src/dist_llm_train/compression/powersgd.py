"""`powersgd:r`: rank-r approximation of every weight matrix (Vogels et al. 2019).

For each matrix M (a tensor of the ParamLayout seen as first dim x the rest), one power
iteration from the previous call's Q: P = orth(M Q), Q = M^T P, and M is sent as the factors P
(n x r) and Q (m x r), decoded as P Q^T. Reusing Q across calls (warm start) makes successive
calls a subspace iteration, so the approximation of a slowly changing gradient improves over
steps; with error feedback the method converges like plain SGD in the paper. Vectors, and
matrices where r(n + m) >= n*m, are sent raw. The sender keeps Q; the receiver needs only the
bytes and the layout (the codec must be built with `layout=`).
"""

from __future__ import annotations

import math

import torch

from dist_llm_train.compression.compose import Selector
from dist_llm_train.errors import DecodeError, PreconditionError
from dist_llm_train.layout import ParamLayout

_F32_MAX = 3.0e38


class PowerSGDSelector(Selector):
    name = "powersgd"

    def __init__(self, rank: int, layout: ParamLayout | None = None, seed: int | None = None):
        if rank < 1:
            raise ValueError(f"powersgd rank must be >= 1, got {rank}")
        self.rank = rank
        self.layout = layout
        self._gen = torch.Generator()
        if seed is None:
            self._gen.seed()
        else:
            self._gen.manual_seed(seed)
        self._q: dict[str, torch.Tensor] = {}
        self._values: torch.Tensor | None = None
        self._plan = None if layout is None else self._make_plan(layout)

    @property
    def spec(self) -> str:
        return f"powersgd:{self.rank}"

    def _make_plan(self, layout: ParamLayout):
        """(spec, (n, m) or None for raw, offset into values) per tensor, and the value count."""
        plan, off = [], 0
        for s in layout:
            nm = s.matrix_shape() if s.is_matrix else None
            if nm is not None and self.rank * (nm[0] + nm[1]) >= nm[0] * nm[1]:
                nm = None
            plan.append((s, nm, off))
            off += s.numel if nm is None else self.rank * (nm[0] + nm[1])
        return plan, off

    def _need_plan(self, numel: int, error=PreconditionError):
        if self._plan is None:
            raise error(f"{self.spec} needs the model's ParamLayout: make_codec('{self.spec}', layout=layout)")
        if numel != self.layout.numel:
            raise error(f"{self.spec}: vector has {numel} elements, the layout {self.layout.numel}")
        return self._plan

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {f"q.{name}": q for name, q in self._q.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        bad = [k for k in state if not k.startswith("q.")]
        if bad:
            raise ValueError(f"{self.spec}: unexpected state keys {bad[:5]}")
        self._q = {k[2:]: v.clone() for k, v in state.items()}

    def select(self, flat: torch.Tensor) -> tuple[bytes, torch.Tensor]:
        plan, total = self._need_plan(flat.numel())
        if self._values is None or self._values.numel() != total:
            self._values = torch.empty(total)
        vals = self._values
        r = self.rank
        for s, nm, off in plan:
            src = flat[s.offset : s.end]
            if nm is None:
                vals[off : off + s.numel].copy_(src)
                continue
            n, m = nm
            mat = src.view(n, m)
            q = self._q.get(s.name)
            if q is None or q.shape != (m, r):
                q = torch.randn(m, r, generator=self._gen)
            p = vals[off : off + n * r].view(n, r)
            torch.matmul(mat, q, out=p)
            p.copy_(torch.linalg.qr(p).Q)
            q_new = vals[off + n * r : off + r * (n + m)].view(m, r)
            torch.matmul(mat.t(), p, out=q_new)
            self._q[s.name] = q_new.clone()
        return b"", vals

    def parse(self, side: memoryview, numel: int):
        if len(side):
            raise DecodeError(f"{self.spec} messages carry no side information, got {len(side)} bytes")
        plan, total = self._need_plan(numel, DecodeError)
        return plan, total

    def expand(self, plan, values: torch.Tensor, numel: int, out: torch.Tensor) -> torch.Tensor:
        r = self.rank
        for s, nm, off in plan:
            dst = out[s.offset : s.end]
            if nm is None:
                dst.copy_(values[off : off + s.numel])
                continue
            n, m = nm
            p = values[off : off + n * r].view(n, r)
            q = values[off + n * r : off + r * (n + m)].view(m, r)
            bound = r * float(p.abs().max()) * float(q.abs().max())
            if not math.isfinite(bound) or bound > _F32_MAX:
                raise DecodeError(f"{self.spec}: factors of {s.name!r} would overflow fp32")
            torch.matmul(p, q.t(), out=dst.view(n, m))
        return out
