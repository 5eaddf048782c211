"""Loading pretrained Hugging Face checkpoints strictly offline, with errors that say where weights go.

Model hubs are unreachable from the machines this project targets, so every from_pretrained call
runs with HF_HUB_OFFLINE=1 and local_files_only=True: it reads a local directory or the user's
Hugging Face cache and never tries the network (which would otherwise hang until a timeout).
Weights load through transformers, which reads safetensors and, for legacy .bin checkpoints,
uses torch.load(weights_only=True), so no pickled code is ever executed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dist_llm_train.errors import ResourceNotFoundError


def offline() -> None:
    """Force Hugging Face libraries offline, including ones imported before the variable was set.

    huggingface_hub and datasets read HF_HUB_OFFLINE once at import; without updating their
    constants too, an already-imported `datasets` would retry the unreachable hub for ~30 s.
    """
    import sys

    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    hub = sys.modules.get("huggingface_hub.constants")
    if hub is not None:
        hub.HF_HUB_OFFLINE = True
    ds = sys.modules.get("datasets.config")
    if ds is not None:
        ds.HF_HUB_OFFLINE = True
        ds.HF_DATASETS_OFFLINE = True
    if "transformers" in sys.modules:  # per-tensor progress bars would flood worker logs
        sys.modules["transformers"].utils.logging.disable_progress_bar()


def from_pretrained_offline(model_cls, path: str | None, hub_ids: Sequence[str], what: str, **overrides):
    """`model_cls.from_pretrained` from `path` or else the HF cache under any of `hub_ids`.

    Raises ResourceNotFoundError naming the places looked at and how to fill one of them.
    """
    import transformers  # noqa: F401  (imported so offline() can silence its progress bars)

    offline()
    tried: list[str] = []
    candidates: list[str] = []
    if path:
        p = Path(os.path.expanduser(path))
        if not p.exists():
            raise ResourceNotFoundError(
                f"model.path {path!r} for {what} does not exist; point it at a directory with config.json and "
                "model.safetensors, or set `model.init: random`"
            )
        candidates.append(str(p))
    else:
        candidates.extend(hub_ids)
    last_exc: Exception | None = None
    for cand in candidates:
        try:
            return model_cls.from_pretrained(cand, local_files_only=True, **overrides), cand
        except (OSError, ValueError) as exc:
            tried.append(cand)
            last_exc = exc
    hub = hub_ids[0] if hub_ids else "the model id"
    raise ResourceNotFoundError(
        f"pretrained weights for {what} are not on this machine (looked in: {', '.join(tried)}; "
        f"last error: {str(last_exc).splitlines()[0] if last_exc else 'none'}). Either set model.path to a "
        f"directory with config.json and model.safetensors, or copy a Hugging Face cache that holds {hub} "
        f"(`huggingface-cli download {hub}` on a machine with internet, then copy "
        f"~/.cache/huggingface/hub/models--{hub.replace('/', '--')}), or set `model.init: random` "
        "to train the same architecture from random initialisation."
    ) from last_exc
