"""Strings from the network, made safe to log and to store.

A worker, even an authenticated one, chooses its hostname, client version and heartbeat phase. Logged
as sent, a 16 MiB hostname filled the server's log and events.jsonl, and a newline in one forged a
log line. Every such string passes through here first: `check_field` refuses one that is too long
or holds control characters (the call ends with INVALID_ARGUMENT naming the field), and `bounded`
cuts and escapes whatever is logged anyway (peer addresses, refusal messages that quote input).
"""

from __future__ import annotations

import grpc

from dist_llm_train.runtime.grpc.validation import Rejected

#: what a request's free-text fields may hold (a DNS name is at most 253 characters)
FIELD_LIMITS = {"hostname": 253, "client_version": 64, "phase": 32}


def bounded(text, limit: int = 200) -> str:
    """At most `limit` characters of `text`, with every non-printable character escaped (a newline
    becomes the two characters \\n), and a note of how much was cut."""
    if isinstance(text, bytes | bytearray | memoryview):
        text = bytes(text[: 4 * limit]).decode("utf-8", "replace")
    text = str(text)
    head = text[:limit]
    safe = "".join(c if c.isprintable() else repr(c)[1:-1] for c in head)
    return safe if len(text) <= limit else f"{safe}...(+{len(text) - limit} characters)"


def check_field(name: str, value: str) -> str:
    """`value` when it is short and printable; otherwise Rejected (INVALID_ARGUMENT) naming the field."""
    limit = FIELD_LIMITS[name]
    if len(value) > limit:
        raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"{name} is {len(value)} characters long; at most {limit}")
    if not value.isprintable():
        raise Rejected(grpc.StatusCode.INVALID_ARGUMENT, f"{name} holds control characters: {bounded(value, 80)}")
    return value
