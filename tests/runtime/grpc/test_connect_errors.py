"""Transport failures named with their fix; TLS mismatches recognised as hopeless before first contact."""

from dist_llm_train.runtime.grpc.connect_errors import PLAIN_TO_TLS_REPEATS, explain, hopeless

# what grpcio reports, verbatim (seen on loopback)
PLAIN_TO_TLS = "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:46103: Socket closed"
REFUSED = ("failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Failed to connect to remote "
           "host: Connection refused")
TLS_TO_PLAIN = ("failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:43501: Tls handshake failed "
                "(TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:100000f7:SSL routines:OPENSSL_internal:"
                "WRONG_VERSION_NUMBER: Invalid certificate verification context: OK")


def test_explain_names_the_fix():
    assert "pass --tls-ca" in explain(PLAIN_TO_TLS, tls=False, target="h:1")
    assert "nothing listens at h:1" in explain(REFUSED, tls=False, target="h:1")
    assert "does not speak TLS: drop --tls-ca" in explain(TLS_TO_PLAIN, tls=True, target="h:1")
    assert explain("something else", tls=False, target="h:1") == ""


def test_only_mismatches_are_hopeless():
    assert hopeless(TLS_TO_PLAIN, tls=True, repeats=1)
    assert not hopeless(PLAIN_TO_TLS, tls=False, repeats=PLAIN_TO_TLS_REPEATS - 1)
    assert hopeless(PLAIN_TO_TLS, tls=False, repeats=PLAIN_TO_TLS_REPEATS)
    assert not hopeless(REFUSED, tls=False, repeats=100)  # the server may still be starting
