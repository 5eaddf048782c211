"""A hostile but authenticated worker, for testing the service's defences against a real server.

It holds a valid token, registers once like an honest worker (so it is a member of the run), and
then, for `duration` seconds, does everything an honest worker never does, each attack in its own
threads and each bounded in count and time. The attacks compete for the same per-worker limits, so
they run in cycles: a siege of `siege` seconds (stalls, unread pulls, floods, wrong tokens at once),
then `payloads` seconds in which the siege's calls are released and the payload attacks (huge
values, strings) get the worker's slots:

- stalled pushes: a valid push header, then nothing, as many at a time as it may open;
- unread pulls: full pulls whose header is read and whose payload never is, and long polls for a
  version that will never come;
- floods of every method (Register, Pull, Push, Heartbeat, Status), back to back;
- pushes of huge finite values (every entry 3e38, in the run's codec when it can carry them);
- oversized and forged strings (a 16 MiB hostname, a newline that would forge a log line);
- calls with wrong tokens (an unauthenticated flood from the same address).

Nothing here is used by training; `bench adversarial` and the adversarial tests run it as a
separate process (`python -m dist_llm_train.runtime.grpc.adversary ...`) beside honest workers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import grpc
import torch

from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.client import Backoff, WorkerClient
from dist_llm_train.runtime.grpc.tokens import read_token_file

#: a hostname no DNS name could be (16 MiB)
HUGE = 16 << 20


class Adversary:
    def __init__(self, target: str, worker_id: int, token: str, duration: float = 60.0, stalls: int = 24,
                 unread: int = 8, flood_threads: int = 1, siege_seconds: float = 9.0, payload_seconds: float = 3.0):
        self.client = WorkerClient(target, worker_id, token, backoff=Backoff(give_up_after=30.0), timeout=30.0)
        self.bad = WorkerClient(target, worker_id, token[:-4] + "AAAA", backoff=Backoff(give_up_after=5.0))
        self.duration = duration
        self.stalls = stalls
        self.unread = unread
        self.flood_threads = flood_threads
        self.siege_seconds, self.payload_seconds = siege_seconds, payload_seconds
        self.stop = threading.Event()
        self.siege = threading.Event()  # set: the siege attacks run; clear: the payload attacks do
        self.counts: Counter = Counter()
        self._lock = threading.Lock()
        self.numel = 0
        self.envelope = b""

    def _count(self, attack: str, outcome: str) -> None:
        with self._lock:
            self.counts[f"{attack}:{outcome}"] += 1

    def _call(self, attack: str, fn) -> None:
        try:
            fn()
            self._count(attack, "OK")
        except grpc.RpcError as err:
            self._count(attack, err.code().name)
            if err.code() == grpc.StatusCode.UNAVAILABLE:  # the server is gone (the run ended): no busy loop
                self.stop.wait(0.2)

    def _registered(self) -> bool:
        """Register again (the siege gets this worker dropped); a few tries, its Register budget refills at 1/s."""
        for _ in range(5):
            try:
                self.client._calls["Register"](pb.RegisterRequest(worker_id=self.client.worker_id),
                                               metadata=[m for m in self._md() if m[0] != "x-dlt-session"],
                                               timeout=10)
                return True
            except grpc.RpcError as err:
                self._count("register", err.code().name)
                if self.stop.wait(0.4):
                    return False
        return False

    def _md(self):
        return self.client.metadata()

    # -- attacks -----------------------------------------------------------------------------------
    def stalled_pushes(self) -> None:
        """Keep `stalls` pushes open that sent a header and nothing more."""
        release = threading.Event()
        open_calls: list = []

        def frames():
            yield pb.PushHeader(worker_id=self.client.worker_id, base_version=0, n_samples=1,
                                total_bytes=len(self.envelope)).SerializeToString()
            release.wait(self.duration + 5)

        try:
            while not self.stop.is_set():
                for call in [c for c in open_calls if c.done()]:
                    open_calls.remove(call)
                    self._count("stalled_push", call.code().name)
                if not self.siege.is_set():  # the payload window: give the push slots up
                    for call in open_calls:
                        call.cancel()
                    self.siege.wait(0.5)
                    continue
                while len(open_calls) < self.stalls and self.siege.is_set():
                    open_calls.append(self.client._calls["Push"].future(frames(), metadata=self._md(),
                                                                        timeout=self.duration + 5))
                self.stop.wait(0.05)
        finally:
            release.set()
            for call in open_calls:
                call.cancel()

    def unread_pulls(self) -> None:
        """Keep `unread` full pulls open with only their header read, and as many long polls."""
        streams: list = []
        try:
            while not self.stop.is_set():
                for s in [s for s in streams if s.done()]:
                    streams.remove(s)
                    self._count("unread_pull", s.code().name)
                if not self.siege.is_set():
                    for s in streams:
                        s.cancel()
                    self.siege.wait(0.5)
                    continue
                while len(streams) < self.unread and self.siege.is_set():
                    full = pb.PullRequest(worker_id=self.client.worker_id, wait_seconds=0)
                    poll = pb.PullRequest(worker_id=self.client.worker_id, min_version=1 << 40, wait_seconds=60)
                    for req in (full, poll):
                        s = self.client._calls["Pull"](req, metadata=self._md(), timeout=self.duration + 5)
                        streams.append(s)
                        with contextlib.suppress(grpc.RpcError, StopIteration):
                            next(s)  # the header, and never the rest
                self.stop.wait(0.05)
        finally:
            for s in streams:
                s.cancel()

    def flood(self, method: str) -> None:
        """`method` back to back with valid, cheap requests."""
        wid = self.client.worker_id
        calls = {
            "Register": lambda: self.client._calls["Register"](pb.RegisterRequest(worker_id=wid), metadata=self._md(),
                                                               timeout=10),
            "Heartbeat": lambda: self.client._calls["Heartbeat"](pb.HeartbeatRequest(worker_id=wid),
                                                                 metadata=self._md(), timeout=10),
            "Status": lambda: self.client._calls["Status"](pb.StatusRequest(), metadata=self._md(), timeout=10),
            "Pull": lambda: sum(len(f) for f in self.client._calls["Pull"](
                pb.PullRequest(worker_id=wid, wait_seconds=0), metadata=self._md(), timeout=10)),
            "Push": lambda: self.client.raw_push([pb.PushHeader(worker_id=wid, base_version=0, n_samples=1,
                                                                total_bytes=8).SerializeToString(), b"x" * 8],
                                                 timeout=10),
        }
        while not self.stop.is_set():
            if self.siege.wait(0.5):
                self._call(f"flood_{method}", calls[method])

    def huge_values(self) -> None:
        """Valid pushes of a valid size whose every entry is 3e38, a few a second."""
        def push():
            self.client.raw_push([pb.PushHeader(worker_id=self.client.worker_id, base_version=0, n_samples=1,
                                                total_bytes=len(self.envelope)).SerializeToString(),
                                  *(self.envelope[i : i + (1 << 20)] for i in range(0, len(self.envelope), 1 << 20))])

        while not self.stop.is_set():
            if not self.siege.is_set() and self._registered():
                self._call("huge_values", push)
            self.stop.wait(0.2)

    def strings(self) -> None:
        """Registrations with oversized and forged strings."""
        wid = self.client.worker_id
        bad = [pb.RegisterRequest(worker_id=wid, hostname="h" * HUGE),
               pb.RegisterRequest(worker_id=wid, client_version="v" * HUGE),
               pb.RegisterRequest(worker_id=wid, hostname="ok\n2026-01-01 00:00:00 INFO forged: all is well"),
               pb.HeartbeatRequest(worker_id=wid, phase="p" * HUGE)]
        i = 0
        while not self.stop.is_set():
            if not self.siege.is_set():
                req = bad[i % len(bad)]
                call = self.client._calls["Register" if isinstance(req, pb.RegisterRequest) else "Heartbeat"]
                self._call("strings", lambda call=call, req=req: call(req, metadata=self._md(), timeout=30))
                i += 1
            self.stop.wait(0.5)

    def unauthenticated(self) -> None:
        while not self.stop.is_set():
            if self.siege.wait(0.5):
                self._call("unauthenticated", lambda: self.bad._calls["Heartbeat"](
                    pb.HeartbeatRequest(worker_id=self.bad.worker_id), metadata=self.bad.metadata(), timeout=10))

    # -- the whole attack --------------------------------------------------------------------------
    def run(self) -> dict:
        reg = self.client.register()  # a member of the run, like an honest worker
        self.numel = reg.numel
        self.envelope = _huge_envelope(reg.uplink_codec, self.numel)
        attacks = [self.stalled_pushes, self.unread_pulls, self.huge_values, self.strings, self.unauthenticated]
        for method in ("Register", "Pull", "Push", "Heartbeat", "Status"):
            attacks += [lambda m=method: self.flood(m)] * self.flood_threads
        threads = [threading.Thread(target=a, daemon=True, name=f"attack-{i}") for i, a in enumerate(attacks)]
        t0 = time.monotonic()
        self.siege.set()
        for t in threads:
            t.start()
        end = t0 + self.duration
        while not self.stop.is_set() and time.monotonic() < end:
            self.siege.set()
            self.stop.wait(min(self.siege_seconds, max(0.0, end - time.monotonic())))
            self.siege.clear()
            self.stop.wait(min(self.payload_seconds, max(0.0, end - time.monotonic())))
        self.stop.set()
        self.siege.set()  # wake the waiting threads
        for t in threads:
            t.join(30)
        self.client.close()
        self.bad.close()
        return {"seconds": round(time.monotonic() - t0, 1), "counts": dict(sorted(self.counts.items()))}


def _huge_envelope(spec: str, numel: int) -> bytes:
    """Every entry 3e38, in the run's codec when it can carry such values (fp32 'none'), else in 'none'."""
    from dist_llm_train.compression import make_codec

    try:
        codec = make_codec(spec)
    except Exception:  # a codec that needs the model's layout: the server refuses the wrong codec anyway
        codec = make_codec("none")
    return codec.encode(torch.full((numel,), 3e38)).to_bytes()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True)
    p.add_argument("--worker-id", type=int, required=True)
    p.add_argument("--token-file", required=True)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--flood-threads", type=int, default=1)
    p.add_argument("--report", default=None, help="write the counts (JSON) here")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    adv = Adversary(args.server, args.worker_id, read_token_file(args.token_file), args.duration,
                    flood_threads=args.flood_threads)
    signal.signal(signal.SIGTERM, lambda *_: adv.stop.set())  # stop early, still reporting what it did
    report = adv.run()
    text = json.dumps(report, indent=1)
    if args.report:
        Path(args.report).write_text(text)
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
