"""Authenticate every call: a per-worker token, checked against its hash, bound to the worker id.

The credential travels as metadata (`authorization: Bearer <token>`, `x-dlt-worker-id: <id>`), so
the same check guards every method. The id in a request body must equal the authenticated id, so
one worker cannot speak for another. Refusals end the call with UNAUTHENTICATED and are logged
in aggregate with the caller's address (refusal_log.py: the first of each kind at once, the rest
as one line per period); a caller that keeps failing is throttled (RESOURCE_EXHAUSTED), while a
valid credential from the same address still passes. The token file is re-read when it changes, so
an operator can issue or revoke tokens without restarting the server.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import grpc

from dist_llm_train.runtime.grpc.refusal_log import FailureThrottle, RefusalLog, peer_host
from dist_llm_train.runtime.grpc.tokens import TokenStore
from dist_llm_train.runtime.grpc.wire import MD_AUTH, MD_WORKER

log = logging.getLogger("dist_llm_train.grpc.auth")


class Authenticator:
    def __init__(self, store: TokenStore, reload_every: float = 1.0, refusals: RefusalLog | None = None,
                 throttle: FailureThrottle | None = None):
        self.store = store
        self.reload_every = reload_every
        self.refusals = refusals or RefusalLog(logging.getLogger("dist_llm_train.grpc.refusals"))
        self.throttle = throttle or FailureThrottle()
        self._mtime = self._stat()
        self._checked = time.monotonic()
        self._lock = threading.Lock()
        self.refused = 0

    def _stat(self) -> float | None:
        if self.store.path is None:
            return None
        try:
            return os.stat(self.store.path).st_mtime
        except OSError:
            return None

    def _maybe_reload(self) -> None:
        if self.store.path is None or time.monotonic() - self._checked < self.reload_every:
            return
        with self._lock:
            self._checked = time.monotonic()
            mtime = self._stat()
            if mtime is not None and mtime != self._mtime:
                try:
                    self.store = TokenStore.load(self.store.path)
                    self._mtime = mtime
                    log.info("token file %s reloaded (%d workers)", self.store.path, len(self.store.records))
                except Exception as exc:  # keep the old tokens rather than locking everyone out
                    log.error("token file %s changed but cannot be read: %s", self.store.path, exc)

    def refuse(self, context: grpc.ServicerContext, why: str) -> None:
        self.refused += 1
        caller = peer_host(context.peer())
        if self.throttle.fail(caller):
            self.refusals.refused(caller, "THROTTLED", why)
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"too many failed authentications from {caller}; wait before calling again ({why})")
        self.refusals.refused(caller, "UNAUTHENTICATED", why)
        context.abort(grpc.StatusCode.UNAUTHENTICATED, why)

    def authenticate(self, context: grpc.ServicerContext, claimed: int | None = None) -> int:
        """The caller's worker id, or the call is aborted with UNAUTHENTICATED."""
        self._maybe_reload()
        md = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        header = md.get(MD_AUTH, "")
        raw_id = md.get(MD_WORKER)
        if not header.startswith("Bearer ") or raw_id is None:
            self.refuse(context, f"no credential: send '{MD_AUTH}: Bearer <token>' and '{MD_WORKER}: <id>'")
        try:
            worker_id = int(raw_id)
        except ValueError:
            self.refuse(context, f"{MD_WORKER} must be an integer worker id, got {raw_id[:32]!r}")
        if not self.store.verify(worker_id, header[len("Bearer "):].strip()):
            self.refuse(context, f"the token is not valid for worker {worker_id}")
        if claimed is not None and claimed != worker_id:
            self.refuse(context, f"worker {worker_id} may not speak for worker {claimed}")
        return worker_id
