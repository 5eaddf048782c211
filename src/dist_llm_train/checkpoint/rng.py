"""Random-number-generator states as JSON (python, numpy) plus one tensor (torch), for checkpoints.

Restoring them makes a resumed run draw the same samples it would have drawn, which is what makes
a resumed simulation reproducible.
"""

from __future__ import annotations

import random

import numpy as np
import torch

TORCH_KEY = "rng.torch"


def capture_rng() -> tuple[dict, dict[str, torch.Tensor]]:
    """(JSON-able states, tensors) of python's, numpy's and torch's global generators."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state(legacy=True)
    states = {
        "python": {"version": py_version, "state": list(py_state), "gauss_next": py_gauss},
        "numpy": {"name": np_name, "keys": [int(k) for k in np_keys], "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "cached_gaussian": float(np_gauss)},
    }
    return states, {TORCH_KEY: torch.get_rng_state().clone()}


def restore_rng(states: dict, tensors: dict[str, torch.Tensor]) -> None:
    py = states.get("python")
    if py is not None:
        random.setstate((int(py["version"]), tuple(int(x) for x in py["state"]), py["gauss_next"]))
    npst = states.get("numpy")
    if npst is not None:
        np.random.set_state((str(npst["name"]), np.asarray(npst["keys"], dtype=np.uint32), int(npst["pos"]),
                             int(npst["has_gauss"]), float(npst["cached_gaussian"])))
    t = tensors.get(TORCH_KEY)
    if t is not None:
        torch.set_rng_state(t.to(torch.uint8))
