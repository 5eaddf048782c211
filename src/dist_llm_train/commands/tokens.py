"""`dist-llm-train tokens create|list|revoke|certs`: credentials of a gRPC run.

The server keeps only salted hashes (the --file JSON); each worker gets its own token file, to be
copied to that worker's machine. `certs` makes a private CA, a server certificate and a client
certificate for TLS and mutual TLS.
"""

from __future__ import annotations

from pathlib import Path

from dist_llm_train.errors import ConfigError


def _ids(spec: str) -> list[int]:
    """'4' -> 0..3; '0-2,5' -> 0,1,2,5."""
    spec = spec.strip()
    if spec.isdigit():
        if int(spec) == 0:
            raise ConfigError("--workers 0 names no worker: give a count (4 = ids 0..3) or ids (0-0 is worker 0)")
        return list(range(int(spec)))
    out: list[int] = []
    try:
        for part in spec.split(","):
            if "-" in part:
                a, b = part.split("-")
                out.extend(range(int(a), int(b) + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise ConfigError(f"--workers {spec!r}: give a count (4) or ids (0-2,5)") from None
    return sorted(set(out))


def register(sub) -> None:
    p = sub.add_parser("tokens", help="issue, list or revoke per-worker tokens; make TLS certificates")
    tsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = tsub.add_parser("create", help="issue tokens to workers that have none (--rotate: replace theirs too)")
    c.add_argument("--file", required=True, help="the server's hashed token file (created if absent)")
    c.add_argument("--workers", required=True, help="a count (4 = ids 0..3) or ids (0-2,5)")
    c.add_argument("--out-dir", required=True, help="where to write worker-<id>.token files")
    c.add_argument("--rotate", action="store_true",
                   help="replace the tokens of workers that already have one (their running workers are refused "
                        "until they get the new token file)")
    c.set_defaults(func=create)
    ls = tsub.add_parser("list", help="worker ids that hold a token")
    ls.add_argument("--file", required=True)
    ls.set_defaults(func=list_tokens)
    rv = tsub.add_parser("revoke", help="revoke a worker's token (a running server re-reads the file)")
    rv.add_argument("--file", required=True)
    rv.add_argument("--worker", type=int, required=True)
    rv.set_defaults(func=revoke)
    ce = tsub.add_parser("certs", help="write a private CA, a server certificate and a client certificate")
    ce.add_argument("--out", required=True)
    ce.add_argument("--host", action="append", default=None, help="server DNS name or IP (repeatable)")
    ce.add_argument("--days", type=int, default=365)
    ce.set_defaults(func=certs)


def create(args) -> int:
    from dist_llm_train.runtime.grpc.tokens import TokenStore, write_token_file

    path = Path(args.file)
    store = TokenStore.load(path) if path.exists() else TokenStore(path=path)
    out = Path(args.out_dir)
    ids = _ids(args.workers)
    held = [w for w in ids if w in store.records]
    if held and not args.rotate:
        # a silent replacement locks out the running workers that hold the old tokens
        raise ConfigError(f"workers {_span(held)} already have tokens in {path}; pass --rotate to replace them "
                          f"(their running workers are then refused until they get the new files), or give only "
                          f"new ids (e.g. --workers {max(store.records) + 1}-{max(store.records) + len(ids)})")
    for wid in ids:
        token_path = write_token_file(out / f"worker-{wid}.token", store.issue(wid))
        print(f"worker {wid}: {token_path}" + (" (replaced its earlier token)" if wid in held else ""))
    store.save(path)
    print(f"wrote tokens for workers {_span(ids)}; hashes in {path} (give this file to `serve --token-file`; "
          "keep the .token files secret)")
    return 0


def _span(ids: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2,5'."""
    out, start = [], None
    for i, w in enumerate(ids):
        if start is None:
            start = w
        if i + 1 == len(ids) or ids[i + 1] != w + 1:
            out.append(str(start) if start == w else f"{start}-{w}")
            start = None
    return ",".join(out)


def list_tokens(args) -> int:
    from dist_llm_train.runtime.grpc.tokens import TokenStore

    for wid in TokenStore.load(args.file).worker_ids:
        print(wid)
    return 0


def revoke(args) -> int:
    from dist_llm_train.runtime.grpc.tokens import TokenStore

    store = TokenStore.load(args.file)
    if not store.revoke(args.worker):
        raise ConfigError(f"worker {args.worker} has no token in {args.file}")
    store.save()
    print(f"revoked the token of worker {args.worker}")
    return 0


def certs(args) -> int:
    from dist_llm_train.runtime.grpc.tls import make_test_pki

    pki = make_test_pki(args.out, tuple(args.host or ["localhost", "127.0.0.1"]), days=args.days)
    print(f"CA {pki.ca}\nserver {pki.server_cert} {pki.server_key}\nclient {pki.client_cert} {pki.client_key}")
    return 0
