"""Parameter parsing shared by the attacks (values may arrive as strings from a spec like 'sign_flip:4')."""

from __future__ import annotations

import math


def number(who: str, what: str, value, minimum: float | None = None, strict: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: {what} must be a number, got {value!r}") from None
    if not math.isfinite(v) or (minimum is not None and (v <= minimum if strict else v < minimum)):
        bound = f"> {minimum}" if strict else f">= {minimum}"
        raise ValueError(f"{who}: {what} must be finite{'' if minimum is None else ' and ' + bound}, got {value!r}")
    return v


def honest_rows(who: str, ctx) -> object:
    """The round's honest updates an omniscient attack needs, or a clear error."""
    h = ctx.honest
    if h is None or h.dim() != 2 or h.shape[0] == 0:
        raise ValueError(f"{who} is omniscient: pass the round's honest updates as AttackContext(honest=[m, d] tensor)")
    return h
