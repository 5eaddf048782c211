"""`dist-llm-train worker --server HOST:PORT --worker-id ID --token-file FILE`: one worker on this machine.

The worker needs no config of its own: the server hands it the run's configuration at
registration, and it builds its model replica and its data shard from that.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import grpc

from dist_llm_train.errors import DistLLMError
from dist_llm_train.runtime.grpc.bounded import bounded


def register(sub) -> None:
    p = sub.add_parser("worker", help="run one worker that joins a parameter server started with `serve`")
    p.add_argument("--server", required=True, metavar="HOST:PORT")
    p.add_argument("--worker-id", type=int, required=True)
    p.add_argument("--token-file", required=True, help="this worker's token (from `tokens create`)")
    p.add_argument("--tls-ca", default=None, help="CA certificate that signed the server's (enables TLS)")
    p.add_argument("--tls-cert", default=None, help="client certificate, when the server requires mutual TLS")
    p.add_argument("--tls-key", default=None, help="private key of --tls-cert")
    p.add_argument("--server-name", default=None, help="name to check the server certificate against")
    p.add_argument("--give-up-after", type=float, default=600.0,
                   help="seconds without reaching the server before the worker exits")
    p.add_argument("--report", default=None, help="write this worker's counts (JSON) here when it stops")
    p.set_defaults(func=run)


def refusal_error(err, args) -> DistLLMError:
    code = err.code()
    details = bounded(str(err.details() or ""), 300)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        fix = (f"check that --token-file holds the token issued to worker {args.worker_id} and that the server's "
               "token file still has it (ask its operator; `tokens create --rotate` replaces tokens)")
    elif code == grpc.StatusCode.INVALID_ARGUMENT:
        fix = "this worker and the server disagree about the run: check --worker-id and both versions"
    else:
        fix = "see the server's log for why"
    return DistLLMError(f"the server at {args.server} refused worker {args.worker_id} ({code.name}: {details}); {fix}")


def run(args) -> int:
    from dist_llm_train.runtime.grpc.assembly import build_worker_parts
    from dist_llm_train.runtime.grpc.client import Backoff, WorkerClient
    from dist_llm_train.runtime.grpc.tls import channel_credentials
    from dist_llm_train.runtime.grpc.tokens import read_token_file
    from dist_llm_train.runtime.grpc.worker_process import WorkerProcess

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token = read_token_file(args.token_file)
    creds = None
    if args.tls_ca or args.tls_cert:
        creds = channel_credentials(args.tls_ca, args.tls_cert, args.tls_key)
    client = WorkerClient(args.server, args.worker_id, token, creds, Backoff(give_up_after=args.give_up_after),
                          server_name=args.server_name)
    proc = WorkerProcess(client, build_worker_parts, report_path=Path(args.report) if args.report else None)
    try:
        report = proc.run()
    except grpc.RpcError as err:  # a refusal retrying cannot fix: one line that says what to change
        raise refusal_error(err, args) from None
    finally:
        client.close()
        if args.report:
            Path(args.report).write_text(json.dumps(proc.report.to_json(), indent=1))
    print(f"worker {args.worker_id}: {report.pushes} pushes, {report.accepted} accepted, "
          f"{report.bytes_pushed:,} bytes sent", flush=True)
    return 0
