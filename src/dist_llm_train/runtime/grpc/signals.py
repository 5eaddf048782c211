"""SIGTERM handled like Ctrl-C by a process that owns other processes.

Python's default SIGTERM ends the interpreter at once, without running `finally` blocks or
context managers, so `train --runtime local` stopped by `timeout`, `docker stop` or Kubernetes left
its server and workers running (and training). Inside `sigterm_unwinds()` a SIGTERM raises
`Terminated` in the main thread instead, so the launcher's cleanup stops every process it started,
as it does on KeyboardInterrupt. Only the first signal raises: a second one while the cleanup runs
is ignored, so the cleanup itself is never cut short.
"""

from __future__ import annotations

import contextlib
import signal
import threading

from dist_llm_train.errors import Terminated


@contextlib.contextmanager
def sigterm_unwinds():
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    fired = []

    def handler(signum, _frame):
        if not fired:
            fired.append(signum)
            raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
