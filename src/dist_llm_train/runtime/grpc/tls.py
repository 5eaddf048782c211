"""TLS for the service: the server's certificate, and mutual TLS (client certificates) as an option.

`make_test_pki` writes a throw-away CA, a server certificate for the given host names / IPs and a
client certificate, with the `cryptography` package: enough for tests and for a private
deployment whose operator is its own CA.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import grpc

from dist_llm_train.errors import ConfigError


def _read(path: str | Path | None, what: str) -> bytes | None:
    if path is None:
        return None
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} file {str(p)!r} not found")
    return p.read_bytes()


def check_pem(cert: bytes | None = None, key: bytes | None = None, *, cert_path="", key_path="") -> None:
    """ConfigError unless `cert` holds PEM certificates and `key` a PEM private key that belongs to the
    first of them. gRPC itself reports a bad file only as "Failed to bind to address", which sends an
    operator looking at the port instead of the file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    certs = []
    if cert is not None:
        try:
            certs = x509.load_pem_x509_certificates(cert)
        except ValueError as exc:
            raise ConfigError(f"TLS certificate {str(cert_path)!r} is not a PEM certificate ({exc}); "
                              "give the file `tokens certs` wrote (server.pem) or your CA issued") from None
    if key is not None:
        try:
            private = serialization.load_pem_private_key(key, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"TLS private key {str(key_path)!r} is not an unencrypted PEM private key ({exc})") \
                from None
        if certs and certs[0].public_key().public_bytes(serialization.Encoding.DER,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo) \
                != private.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo):
            raise ConfigError(f"TLS private key {str(key_path)!r} does not belong to the certificate "
                              f"{str(cert_path)!r}; give the key that was made with it")


def server_credentials(cert: str | Path, key: str | Path,
                       client_ca: str | Path | None = None) -> grpc.ServerCredentials:
    """TLS with the server's certificate; with `client_ca`, every client must present a certificate it signed."""
    pair = (_read(key, "TLS private key"), _read(cert, "TLS certificate"))
    ca = _read(client_ca, "client CA")
    check_pem(pair[1], pair[0], cert_path=cert, key_path=key)
    if ca is not None:
        check_pem(ca, cert_path=client_ca)
    return grpc.ssl_server_credentials([pair], root_certificates=ca, require_client_auth=ca is not None)


def channel_credentials(ca: str | Path | None = None, cert: str | Path | None = None,
                        key: str | Path | None = None) -> grpc.ChannelCredentials:
    """Trust `ca` (or the system roots); present `cert`/`key` when the server asks for mutual TLS."""
    if (cert is None) != (key is None):
        raise ConfigError("a client certificate needs both --tls-cert and --tls-key")
    roots, private, chain = _read(ca, "TLS CA"), _read(key, "TLS key"), _read(cert, "TLS certificate")
    if roots is not None:
        check_pem(roots, cert_path=ca)
    if chain is not None:
        check_pem(chain, private, cert_path=cert, key_path=key)
    return grpc.ssl_channel_credentials(root_certificates=roots, private_key=private, certificate_chain=chain)


@dataclass
class TestPKI:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_test_pki(directory: str | Path, hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
                  days: int = 30) -> TestPKI:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write_key(key, path: Path) -> None:
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        path.chmod(0o600)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days)
    ca_name = name("dist-llm-train CA")
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .sign(ca_key, hashes.SHA256()))

    def leaf(cn: str, usage, sans) -> tuple[bytes, object]:
        key = ec.generate_private_key(ec.SECP256R1())
        b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca_cert.subject)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(start).not_valid_after(end)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return b.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM), key

    sans = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    pki = TestPKI(out / "ca.pem", out / "server.pem", out / "server.key", out / "client.pem", out / "client.key")
    pki.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert, key = leaf(hosts[0] if hosts else "server", ExtendedKeyUsageOID.SERVER_AUTH, sans)
    pki.server_cert.write_bytes(cert)
    write_key(key, pki.server_key)
    cert, key = leaf("dist-llm-train worker", ExtendedKeyUsageOID.CLIENT_AUTH, [])
    pki.client_cert.write_bytes(cert)
    write_key(key, pki.client_key)
    return pki
