"""The bare grpcio floor of the transport benchmark moves exactly the bytes asked for, both ways."""

import grpc
import pytest

from dist_llm_train.runtime.grpc.bare_stream import BareClient, BareSink


@pytest.fixture
def ends():
    sink = BareSink(10_000, chunk_bytes=3_000)
    client = BareClient(sink.port, 10_000, chunk_bytes=3_000)
    yield sink, client
    client.close()
    sink.stop()


def test_push_lands_every_byte_in_the_sink(ends):
    sink, client = ends
    client.payload[:7_001] = bytes(range(256)) * 27 + bytes(89)
    assert client.seconds("up", 7_001) > 0
    assert bytes(sink.sink[:7_001]) == bytes(client.payload[:7_001])


def test_pull_receives_exactly_the_asked_length(ends):
    sink, client = ends
    sink.payload[:] = bytes([7]) * 10_000
    assert client.seconds("down", 9_999) > 0
    assert bytes(client.sink[:9_999]) == bytes([7]) * 9_999


def test_sizes_outside_the_buffers_are_refused(ends):
    sink, client = ends
    with pytest.raises(ValueError, match="nbytes must be in 1..10000"):
        client.seconds("up", 10_001)
    with pytest.raises(grpc.RpcError) as err:  # the server's own check, asked directly
        list(client._pull((20_000).to_bytes(8, "little"), timeout=10))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
