"""What a failed connection to the server means, in words an operator can act on.

gRPC reports every connection failure as UNAVAILABLE with a transport message ("Socket closed",
"Connection refused", "WRONG_VERSION_NUMBER"); retrying is right when the server is restarting, but
a TLS mismatch never fixes itself, and a worker that retried it for ten minutes before dying with
a traceback left its operator guessing. `explain` names the likely cause and the fix; `hopeless`
says which failures, seen before the worker ever reached the server, are configuration mistakes
that retrying cannot fix.
"""

from __future__ import annotations

#: a plain-text client sees the TLS server close the socket; seen this many times in a row before the
#: first success, it is taken as a TLS mismatch rather than a server going down
PLAIN_TO_TLS_REPEATS = 3


def explain(details: str, tls: bool, target: str) -> str:
    """A hint for an UNAVAILABLE / DEADLINE_EXCEEDED message, or "" when there is nothing to add."""
    d = details or ""
    if "WRONG_VERSION_NUMBER" in d or ("handshake" in d.lower() and "record" in d.lower()):
        return f"{target} does not speak TLS: drop --tls-ca (or start the server with --tls-cert/--tls-key)"
    if "CERTIFICATE_VERIFY_FAILED" in d or "certificate verify failed" in d.lower():
        return "the server's certificate is not signed by --tls-ca: give the CA that signed it"
    if "Peer name" in d or "hostname" in d.lower() and "match" in d.lower():
        return "the server's certificate does not name this host: connect by a name it holds, or pass --server-name"
    if "Tls handshake failed" in d or "SSL_ERROR" in d:
        return "the TLS handshake failed: check --tls-ca, and --tls-cert/--tls-key when the server asks for mutual TLS"
    if "Socket closed" in d and not tls:
        return "the server closed the connection at once: if it uses TLS, pass --tls-ca CA.pem"
    if "Connection refused" in d:
        return f"nothing listens at {target}: is the server running, and are the host and port right?"
    if "DNS" in d or "resolve" in d.lower():
        return f"the host of {target} does not resolve: check --server"
    if "Deadline" in d or "deadline" in d.lower() or "timed out" in d.lower():
        return f"{target} does not answer: check the address and any firewall between"
    return ""


def hopeless(details: str, tls: bool, repeats: int) -> bool:
    """True for a failure, seen before the first successful call, that retrying cannot fix."""
    d = details or ""
    if tls and ("Tls handshake failed" in d or "SSL_ERROR" in d or "CERTIFICATE_VERIFY_FAILED" in d):
        return True
    return not tls and "Socket closed" in d and repeats >= PLAIN_TO_TLS_REPEATS
