"""The parameter-server process: build, listen, watch workers, checkpoint, stop cleanly.

`run_server` blocks until training is done (or SIGTERM / Ctrl-C), then waits briefly so the
workers hear that it is over, evaluates and checkpoints one last time, and writes summary.json.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import yaml

from dist_llm_train.config import RunConfig
from dist_llm_train.errors import CheckpointError, ConfigError
from dist_llm_train.runtime.grpc import ps_pb2 as pb

log = logging.getLogger("dist_llm_train.grpc.server")


class _LockedLog:
    def __init__(self, path: Path):
        from dist_llm_train.metrics import EventLog

        self.log = EventLog(path)
        self.lock = threading.Lock()

    def __call__(self, event: dict) -> None:
        with self.lock:
            self.log.write(event)
            self.log._fh.flush()

    def close(self) -> None:
        with self.lock:
            self.log.close()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def run_server(cfg: RunConfig, run_dir: str | Path, *, resume: bool = False, host: str | None = None,
               port: int | None = None, port_file: str | Path | None = None, evaluate: bool = True,
               announce=print) -> dict:
    from dist_llm_train.runtime.grpc.assembly import build_server_parts, layout_sha256
    from dist_llm_train.runtime.grpc.auth import Authenticator
    from dist_llm_train.runtime.grpc.run_dir import check_fresh
    from dist_llm_train.runtime.grpc.service import ParameterServerService, start_server
    from dist_llm_train.runtime.grpc.tls import server_credentials
    from dist_llm_train.runtime.grpc.tokens import TokenStore

    run_dir = Path(run_dir)
    check_fresh(run_dir, Path(cfg.checkpoint.dir) if cfg.checkpoint.dir else run_dir / "checkpoints", resume=resume,
                fix="continue it with --resume, or start a new run with another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    rt = cfg.runtime
    token_path = Path(rt.token_file) if rt.token_file else run_dir / "tokens.json"
    store = TokenStore.load(token_path)
    credentials = None
    if rt.tls_cert or rt.tls_key:
        if not (rt.tls_cert and rt.tls_key):
            raise ConfigError("TLS needs both runtime.tls_cert and runtime.tls_key")
        credentials = server_credentials(rt.tls_cert, rt.tls_key, rt.tls_client_ca)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    events = _LockedLog(run_dir / (f"events-resumed-{int(time.time())}.jsonl" if resume else "events.jsonl"))
    t0 = time.time()
    parts = build_server_parts(cfg, run_dir, resume=resume, on_event=events, evaluate=evaluate)
    core = parts.core
    if parts.resumed_from:
        announce(f"resumed from {parts.resumed_from} at version {core.server.version}")
    service = ParameterServerService(
        core, Authenticator(store), run_config_json=cfg.model_dump_json(), layout_sha256=layout_sha256(parts.layout),
        uplink_codec=parts.uplink_spec, downlink_codec=parts.downlink_spec, chunk_bytes=rt.chunk_bytes)
    server, bound = start_server(service, host or rt.host, rt.port if port is None else port, credentials)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        if port_file:
            _write_atomic(Path(port_file), str(bound))
        scheme = "TLS" if credentials else "plain text (tokens are visible on the network: use TLS beyond loopback)"
        announce(f"parameter server listening on {host or rt.host}:{bound} ({scheme}); "
                 f"{core.num_workers} workers, {parts.layout.numel:,} parameters")
        announce(f"workers join with: dist-llm-train worker --server HOST:{bound} --worker-id ID "
                 f"--token-file worker-ID.token" + (" --tls-ca CA.pem" if credentials else ""))
        core.start_eval()  # the starting point of the loss curve
        last_print = 0.0
        while not stop.is_set():
            core.tick()
            if core.state == pb.DONE or core.failure is not None:
                break
            if time.time() - last_print > 10:
                last_print = time.time()
                announce(f"version {core.server.version}/{cfg.max_server_steps}  {pb.RunState.Name(core.state)}: "
                         f"{core.message}")
            stop.wait(0.2)
        if core.state == pb.DONE:  # let the workers pull once more and hear that training is over
            grace = time.time() + 3 * rt.heartbeat_interval + 2
            while time.time() < grace and not core.all_told_done():
                time.sleep(0.1)
    except KeyboardInterrupt:
        announce("interrupted: writing a final checkpoint")
    finally:
        core.finish()
        server.stop(grace=1.0).wait(5)
        service.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        events.close()
    status = core.status()
    status["wall_time"] = time.time() - t0
    status["port"] = bound
    _write_atomic(run_dir / "server_status.json", json.dumps(status, indent=1))
    announce(f"stopped at version {core.server.version} ({pb.RunState.Name(core.state)}); "
             f"status in {run_dir / 'server_status.json'}")
    sys.stdout.flush()
    if core.failure is not None:
        raise CheckpointError(f"training stopped at version {core.server.version}: {core.failure}")
    return status
