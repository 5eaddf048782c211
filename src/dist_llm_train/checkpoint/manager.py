"""CheckpointManager: write a run's state atomically, keep the last K, resume from the newest intact one.

A checkpoint is a directory `step-<version>-<millis>/` holding
    tensors.safetensors   parameters, server optimizer state, version, torch RNG state
    state.json            coordinator state, caller's extra facts, python/numpy RNG, privacy accountant
    manifest.json         sha256 and size of the two files above (written last)
It is written under a temporary name, every file fsync'ed, then renamed into place and the parent
directory fsync'ed: a crash leaves either the whole checkpoint or none. A checkpoint whose manifest
is missing or whose hashes do not match (a disk that lied, a copy cut short) is skipped with a
warning by `latest()`. safetensors and JSON only: loading never executes anything.

Saving is split in two so a server can hold its lock only for the copy: `snapshot()` clones the
state (fast), `write()` does the slow I/O (can run on another thread).

A write that fails (disk full, read-only file system, no permission) removes its temporary
directory and raises CheckpointError naming the directory, the cause and the last good checkpoint,
so a run never goes on as if its state were saved; the directory is probed when the manager is
made, so an unusable one is refused before training instead of at the first checkpoint. A
snapshot whose floating-point tensors hold a NaN or an inf is refused too: a checkpoint of a broken
state would carry it into every resume.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from dist_llm_train.checkpoint.rng import capture_rng, restore_rng
from dist_llm_train.errors import CheckpointError, ConfigError, DecodeError, ResourceNotFoundError

log = logging.getLogger("dist_llm_train.checkpoint")

FORMAT = 1
TENSORS = "tensors.safetensors"
STATE = "state.json"
MANIFEST = "manifest.json"
_PREFIX = "step-"
_TMP = ".tmp-"
_EXTRA = "extra/"


@dataclass
class Snapshot:
    version: int
    tensors: dict[str, torch.Tensor]
    state: dict


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _why(exc: OSError) -> str:
    return f"{exc.strerror or type(exc).__name__}" + (f": {exc.filename}" if exc.filename else "")


def _sort_key(path: Path) -> tuple[int, int]:
    try:
        _, version, millis = path.name.split("-")
        return int(version), int(millis)
    except ValueError:
        return -1, -1


class CheckpointManager:
    def __init__(self, directory: str | Path, keep: int = 3):
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.dir = Path(directory)
        self.keep = keep
        probe = self.dir / f"{_TMP}probe-{os.getpid()}"
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            probe.mkdir(exist_ok=True)
            _fsync_write(probe / "probe", b"ok")
        except OSError as exc:
            raise ConfigError(f"checkpoint directory {str(self.dir)!r} cannot be written ({_why(exc)}); "
                              "point checkpoint.dir at a writable directory") from None
        finally:
            shutil.rmtree(probe, ignore_errors=True)
        for stale in self.dir.glob(_TMP + "*"):  # left by a crash mid-write
            shutil.rmtree(stale, ignore_errors=True)

    # -- saving ----------------------------------------------------------------------------------
    def snapshot(self, server, coordinator=None, extra: dict | None = None, rng: bool = True,
                 accountant=None, extra_tensors: dict[str, torch.Tensor] | None = None) -> Snapshot:
        """Clone everything a resume needs; cheap enough to call under the server's lock.

        `extra_tensors` are the caller's own tensors (the simulator's worker residuals, say); they are
        stored under an `extra/` prefix and handed back by `load_into` in state["extra_tensors"]."""
        tensors = {k: v.detach().clone().contiguous() for k, v in server.state_dict().items()}
        for k, v in (extra_tensors or {}).items():
            tensors[_EXTRA + k] = v.detach().clone().contiguous()
        state: dict = {"format": FORMAT, "version": int(server.version), "time": time.time(),
                       "extra": extra or {}}
        if coordinator is not None:
            state["coordinator"] = json.loads(json.dumps(coordinator.state_dict()))
        if rng:
            rng_json, rng_tensors = capture_rng()
            state["rng"] = rng_json
            tensors.update(rng_tensors)
        if accountant is not None:
            state["privacy"] = json.loads(json.dumps(accountant.state_dict()))
        bad = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
        if bad:
            raise CheckpointError(f"refusing to checkpoint version {server.version}: {', '.join(sorted(bad))} "
                                  "hold NaN or inf values")
        return Snapshot(int(server.version), tensors, state)

    def write(self, snap: Snapshot) -> Path:
        """Write a snapshot atomically and prune old checkpoints; returns the checkpoint directory.
        CheckpointError (and no partial directory left) when the write fails."""
        name = f"{_PREFIX}{snap.version:09d}-{int(time.time() * 1000):013d}"
        tmp = self.dir / f"{_TMP}{name}"
        final = self.dir / name
        try:
            tmp.mkdir(parents=True)
            blobs = {TENSORS: st_save(snap.tensors), STATE: json.dumps(snap.state, indent=1).encode()}
            for fname, data in blobs.items():
                _fsync_write(tmp / fname, data)
            manifest = {"format": FORMAT, "version": snap.version,
                        "files": {f: {"sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)}
                                  for f, d in blobs.items()}}
            _fsync_write(tmp / MANIFEST, json.dumps(manifest, indent=1).encode())
            _fsync_dir(tmp)
            os.rename(tmp, final)
            _fsync_dir(self.dir)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            last = self.latest()
            raise CheckpointError(
                f"checkpoint of version {snap.version} could not be written to {self.dir} ({_why(exc)}); "
                f"the last good checkpoint is {last if last is not None else 'none'}: free space or fix the "
                "directory, then restart with --resume") from None
        self._prune()
        return final

    def save(self, server, coordinator=None, extra: dict | None = None, rng: bool = True, accountant=None,
             extra_tensors: dict[str, torch.Tensor] | None = None) -> Path:
        return self.write(self.snapshot(server, coordinator, extra, rng, accountant, extra_tensors))

    def _prune(self) -> None:
        for old in self.list()[self.keep:]:
            shutil.rmtree(old, ignore_errors=True)

    # -- finding and loading ---------------------------------------------------------------------
    def list(self) -> list[Path]:
        """Checkpoint directories, newest first (by version, then time of writing)."""
        found = [p for p in self.dir.glob(_PREFIX + "*") if p.is_dir() and _sort_key(p)[0] >= 0]
        return sorted(found, key=_sort_key, reverse=True)

    @staticmethod
    def read(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
        """Verify a checkpoint against its manifest and return (tensors, state); DecodeError if damaged."""
        path = Path(path)
        try:
            manifest = json.loads((path / MANIFEST).read_text())
            files = manifest["files"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DecodeError(f"checkpoint {path}: manifest missing or unreadable ({exc})") from None
        blobs = {}
        for fname in (TENSORS, STATE):
            try:
                data = (path / fname).read_bytes()
                want = files[fname]
            except (OSError, KeyError, TypeError) as exc:
                raise DecodeError(f"checkpoint {path}: {fname} missing ({exc})") from None
            if len(data) != want.get("bytes") or hashlib.sha256(data).hexdigest() != want.get("sha256"):
                raise DecodeError(f"checkpoint {path}: {fname} does not match its sha256 in the manifest (damaged)")
            blobs[fname] = data
        try:
            tensors = st_load(blobs[TENSORS])
            state = json.loads(blobs[STATE])
        except Exception as exc:  # hashes matched but the content is not ours
            raise DecodeError(f"checkpoint {path}: cannot parse ({exc})") from None
        if state.get("format") != FORMAT:
            raise DecodeError(f"checkpoint {path}: format {state.get('format')!r}, this build reads {FORMAT}")
        return tensors, state

    def latest(self) -> Path | None:
        """The newest checkpoint that verifies; damaged ones are skipped with a warning."""
        for path in self.list():
            try:
                self.read(path)
                return path
            except DecodeError as exc:
                log.warning("skipping damaged checkpoint: %s", exc)
        return None

    def load_into(self, server, coordinator=None, path: str | Path | None = None, rng: bool = True,
                  accountant=None) -> dict:
        """Restore the newest intact checkpoint (or `path`) into these objects; returns its state JSON
        (the caller's `extra` is under "extra")."""
        if path is None:
            path = self.latest()
            if path is None:
                raise ResourceNotFoundError(f"no intact checkpoint in {self.dir}; start without --resume")
        tensors, state = self.read(path)
        state["extra_tensors"] = {k[len(_EXTRA):]: tensors.pop(k) for k in [k for k in tensors if k.startswith(_EXTRA)]}
        server.load_state_dict(tensors)
        if coordinator is not None and "coordinator" in state:
            coordinator.load_state_dict(state["coordinator"])
        if rng and "rng" in state:
            restore_rng(state["rng"], tensors)
        if accountant is not None and "privacy" in state:
            accountant.load_state_dict(state["privacy"])
        state["path"] = str(path)
        return state
