"""TLS: a plain-text client is refused; mutual TLS refuses a client without a certificate."""

import grpc
import pytest

from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.client import Backoff
from dist_llm_train.runtime.grpc.tls import channel_credentials, make_test_pki, server_credentials


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_test_pki(tmp_path_factory.mktemp("pki"))


def test_tls_server_serves_tls_clients_and_refuses_plain_text(live_server, pki):
    srv = live_server(credentials=server_credentials(pki.server_cert, pki.server_key))
    good = srv.client(0, credentials=channel_credentials(pki.ca))
    assert good.register().state == pb.RUNNING
    plain = srv.client(1, backoff=Backoff(give_up_after=0), timeout=5)
    with pytest.raises(Exception) as info:
        plain.register()
    assert "unreachable" in str(info.value) or getattr(info.value, "code", lambda: None)() in (
        grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    assert srv.core.membership.active == [0]


def test_mutual_tls_needs_a_client_certificate(live_server, pki):
    srv = live_server(credentials=server_credentials(pki.server_cert, pki.server_key, client_ca=pki.ca))
    no_cert = srv.client(0, credentials=channel_credentials(pki.ca), backoff=Backoff(give_up_after=0), timeout=5)
    with pytest.raises(Exception, match="unreachable|UNAVAILABLE"):
        no_cert.register()
    with_cert = srv.client(0, credentials=channel_credentials(pki.ca, pki.client_cert, pki.client_key))
    assert with_cert.register().state == pb.RUNNING


def test_a_server_certificate_from_another_ca_is_not_trusted(live_server, pki, tmp_path):
    other = make_test_pki(tmp_path / "other")
    srv = live_server(credentials=server_credentials(other.server_cert, other.server_key))
    c = srv.client(0, credentials=channel_credentials(pki.ca), backoff=Backoff(give_up_after=0), timeout=5)
    with pytest.raises(Exception, match="unreachable|UNAVAILABLE"):
        c.register()
