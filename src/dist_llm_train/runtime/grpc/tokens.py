"""Per-worker tokens: issued by the server's operator, stored hashed, bound to one worker id.

A token is `dlt1.<worker id>.<43 url-safe base64 characters>` (256 random bits). The server keeps
only a salted SHA-256 of each token in a JSON file, so a leaked token file on the server does not
let anyone speak as a worker. 256 bits of entropy make a slow hash (scrypt) unnecessary: there is
nothing to brute-force, and a fast hash keeps per-call verification in the microseconds.
The worker id inside a token is only a hint for the operator; what binds a token to a worker is
the hash record stored under that worker's id, so a token cannot be replayed as another worker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from dist_llm_train.errors import ConfigError, ResourceNotFoundError

TOKEN_PREFIX = "dlt1"
FILE_FORMAT = 1


def _digest(salt: bytes, token: str) -> str:
    return hashlib.sha256(salt + token.encode("utf-8")).hexdigest()


def new_token(worker_id: int) -> str:
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    return f"{TOKEN_PREFIX}.{int(worker_id)}.{secret}"


@dataclass
class TokenRecord:
    worker_id: int
    salt: str  # hex
    sha256: str  # hex of sha256(salt || token)
    created: float

    def matches(self, token: str) -> bool:
        return hmac.compare_digest(_digest(bytes.fromhex(self.salt), token), self.sha256)


def _check_record(rec: TokenRecord) -> None:
    """A record that cannot verify any token (a salt that is not hex, a hash that is not 64 hex digits) is
    refused when the file is read: loaded, it made every call of that worker fail with UNKNOWN."""
    try:
        bytes.fromhex(rec.salt)
        ok = len(rec.sha256) == 64 and len(bytes.fromhex(rec.sha256)) == 32
    except ValueError:
        ok = False
    if not ok or rec.worker_id < 0:
        raise ValueError(f"the record of worker {rec.worker_id} is damaged (salt and sha256 must be hex, "
                         "the sha256 64 digits)")


class TokenStore:
    """The server side: {worker id: salted hash}, loaded from and saved to a JSON file."""

    def __init__(self, records: dict[int, TokenRecord] | None = None, path: Path | None = None):
        self.records = dict(records or {})
        self.path = path

    # -- files -----------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> TokenStore:
        path = Path(path)
        if not path.is_file():
            raise ResourceNotFoundError(
                f"token file {str(path)!r} not found; create it with `dist-llm-train tokens create --file {path}`"
            )
        try:
            data = json.loads(path.read_text())
            if data.get("format") != FILE_FORMAT:
                raise ConfigError(f"{path}: token file format {data.get('format')!r}, expected {FILE_FORMAT}")
            records = {}
            for wid, rec in data["workers"].items():
                record = TokenRecord(int(wid), str(rec["salt"]), str(rec["sha256"]), float(rec.get("created", 0)))
                _check_record(record)
                records[record.worker_id] = record
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{path}: not a valid token file ({exc}); recreate it with `tokens create`") from exc
        return cls(records, path)

    def save(self, path: str | Path | None = None) -> Path:
        path = Path(path or self.path)
        data = {
            "format": FILE_FORMAT,
            "workers": {
                str(w): {"salt": r.salt, "sha256": r.sha256, "created": r.created}
                for w, r in sorted(self.records.items())
            },
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        self.path = path
        return path

    # -- issuing and checking --------------------------------------------------------------------
    def issue(self, worker_id: int) -> str:
        """A new token for this worker (replacing any earlier one); returns the token itself."""
        if worker_id < 0:
            raise ConfigError(f"worker ids are >= 0, got {worker_id}")
        token = new_token(worker_id)
        salt = secrets.token_bytes(16)
        self.records[worker_id] = TokenRecord(worker_id, salt.hex(), _digest(salt, token), time.time())
        return token

    def revoke(self, worker_id: int) -> bool:
        return self.records.pop(worker_id, None) is not None

    def verify(self, worker_id: int, token: str) -> bool:
        """True only if this token was issued to exactly this worker id."""
        rec = self.records.get(worker_id)
        return rec is not None and rec.matches(token)

    @property
    def worker_ids(self) -> list[int]:
        return sorted(self.records)


def write_token_file(path: str | Path, token: str) -> Path:
    """Write one worker's token, readable by its owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return path


def read_token_file(path: str | Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise ResourceNotFoundError(f"token file {str(path)!r} not found; ask the server's operator for one")
    token = path.read_text().strip()
    if not token.startswith(TOKEN_PREFIX + ".") or token.count(".") != 2:
        raise ConfigError(f"{path}: does not hold a dist-llm-train worker token ({TOKEN_PREFIX}.<id>.<secret>)")
    return token


def token_worker_id(token: str) -> int | None:
    """The worker id written inside a token (a hint: the server checks the hash, not this)."""
    try:
        return int(token.split(".")[1])
    except (IndexError, ValueError):
        return None
