"""The service's buffer pools: reuse, bounded concurrency, and snapshots never rewritten under a reader."""

import threading
import time

import pytest

from dist_llm_train.runtime.grpc.buffers import ByteBuffers, Snapshots, TensorSlots
from dist_llm_train.runtime.grpc.wire import frames, tune_malloc


def test_byte_buffers_are_reused_and_sized_exactly():
    pool = ByteBuffers(keep=2)
    with pool.lease(100) as a:
        a[:] = b"x" * 100
        assert len(a) == 100
    with pool.lease(60) as b:  # fits in the kept 100-byte buffer
        assert len(b) == 60 and bytes(b[:3]) == b"xxx"
    with pool.lease(200) as c, pool.lease(10) as d:
        assert len(c) == 200 and len(d) == 10
    assert pool.allocated == 2  # 100 (reused for 60 and for 10) and 200
    with pytest.raises(ValueError), pool.lease(-1):
        pass


def test_tensor_slots_bound_concurrency():
    slots = TensorSlots(numel=8, slots=2)
    inside, peak, lock = [0], [0], threading.Lock()

    def use():
        with slots.lease() as t:
            assert t.numel() == 8
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            time.sleep(0.02)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=use) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2 and slots.allocated == 2


def test_snapshots_share_a_key_and_never_rewrite_a_buffer_being_read():
    snaps = Snapshots(keep=2)

    def filler(byte):
        def fill(view):
            view[:] = bytes([byte]) * len(view)
        return fill

    a1 = snaps.acquire(1, 4, filler(1))
    a2 = snaps.acquire(1, 4, filler(9))  # same key: shared, not refilled
    assert bytes(a2.view) == b"\x01" * 4 and snaps.fills == 1
    b = snaps.acquire(2, 4, filler(2))  # second kept buffer
    c = snaps.acquire(3, 4, filler(3))  # both kept buffers are read: a transient one
    assert bytes(a1.view) == b"\x01" * 4 and bytes(b.view) == b"\x02" * 4 and bytes(c.view) == b"\x03" * 4
    for s in (a1, a2, b, c):
        s.release()
    d = snaps.acquire(4, 4, filler(4))  # now an idle kept buffer is refilled
    assert bytes(d.view) == b"\x04" * 4 and snaps.fills == 4
    with pytest.raises(TypeError):
        d.view[0] = 0  # readers get read-only views


def test_frames_cover_the_payload_and_refuse_a_zero_chunk():
    data = bytes(range(10))
    assert b"".join(frames(data, 3)) == data and [len(f) for f in frames(data, 3)] == [3, 3, 3, 1]
    with pytest.raises(ValueError):
        list(frames(data, 0))


def test_malloc_tuning_applies_on_glibc():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt thresholds are glibc's")
    assert tune_malloc() is True


def test_try_lease_never_waits_and_gives_its_slot_back():
    slots = TensorSlots(numel=4, slots=1)
    with slots.try_lease() as a:
        assert a is not None and a.numel() == 4
        with slots.try_lease() as b:
            assert b is None, "the only slot is taken: no waiting, no second vector"
    with slots.try_lease() as c:
        assert c is a, "the slot came back and its vector is reused"
    assert slots.allocated == 1


def test_frames_over_parts_are_full_frames_spanning_part_boundaries():
    parts = [b"head", memoryview(bytearray(b"abcdefghij")), b"", b"XYZ"]
    joined = b"headabcdefghijXYZ"
    for n in range(1, 20):
        got = list(frames(parts, n))
        assert b"".join(got) == joined, n
        assert all(len(f) == n for f in got[:-1]) and 0 < len(got[-1]) <= n, (n, got)
    assert list(frames([], 4)) == [] and list(frames([b""], 4)) == []


def test_read_ahead_keeps_order_bounds_memory_and_reraises_the_streams_error():
    from dist_llm_train.runtime.grpc.wire import read_ahead

    assert list(read_ahead(iter([b"a", b"b", b"c"]))) == [b"a", b"b", b"c"]
    pulled = []

    def source():
        for i in range(100):
            pulled.append(i)
            yield bytes([i])

    it = read_ahead(source(), depth=2)
    assert next(it) == b"\x00"
    time.sleep(0.2)
    assert len(pulled) <= 4, "the reader runs at most depth frames (plus the one in hand) ahead"
    it.close()  # a consumer that stops early stops the reader
    time.sleep(0.2)
    stopped_at = len(pulled)
    time.sleep(0.2)
    assert len(pulled) == stopped_at

    boom = RuntimeError("connection reset")

    def broken():
        yield b"x"
        raise boom

    it = read_ahead(broken())
    assert next(it) == b"x"
    with pytest.raises(RuntimeError) as info:
        next(it)
    assert info.value is boom, "the consumer sees the stream's own exception (e.g. grpc.RpcError)"
