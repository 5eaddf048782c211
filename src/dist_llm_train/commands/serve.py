"""`dist-llm-train serve CONFIG`: run the parameter server of a real (gRPC) training run."""

from __future__ import annotations

import logging
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("serve", help="start the parameter server; workers on any host join with `worker`")
    p.add_argument("config", help="YAML file or preset name")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--host", default=None, help="address to listen on (default runtime.host; 0.0.0.0 = all)")
    p.add_argument("--port", type=int, default=None, help="port (default runtime.port; 0 = any free port)")
    p.add_argument("--out", default=None, help="run directory (default out_dir/name)")
    p.add_argument("--resume", action="store_true", help="continue from the newest intact checkpoint")
    p.add_argument("--token-file", default=None, help="hashed worker tokens (default <run dir>/tokens.json)")
    p.add_argument("--tls-cert", default=None, help="PEM certificate of this server (enables TLS)")
    p.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    p.add_argument("--tls-client-ca", default=None, help="require client certificates signed by this CA (mutual TLS)")
    p.add_argument("--port-file", default=None, help="write the bound port here once listening (for scripts)")
    p.add_argument("--no-eval", action="store_true", help="skip validation-loss evaluation on the server")
    p.set_defaults(func=run)


def run(args) -> int:
    from dist_llm_train.config import load_config
    from dist_llm_train.controller.main_controller import as_build_error
    from dist_llm_train.runtime.grpc.server_process import run_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = list(args.overrides)
    for key, value in (("token_file", args.token_file), ("tls_cert", args.tls_cert), ("tls_key", args.tls_key),
                       ("tls_client_ca", args.tls_client_ca)):
        if value is not None:
            overrides.append(f"runtime.{key}={Path(value).resolve()}")
    cfg = load_config(args.config, overrides)
    run_dir = Path(args.out) if args.out else Path(cfg.out_dir) / cfg.name
    built = []  # the server announces only once its parts are built

    def announce(message: str) -> None:
        built.append(True)
        print(message, flush=True)

    try:
        status = run_server(cfg, run_dir, resume=args.resume, host=args.host, port=args.port,
                            port_file=args.port_file, evaluate=not args.no_eval, announce=announce)
    except ValueError as exc:
        if built:
            raise  # a failure while serving is a bug to see in full
        raise as_build_error(cfg, exc) from exc
    return 0 if status["state"] == "DONE" else 1
