"""One shaped link in real network namespaces: tbf gives the bandwidth, the relay the latency.

Skips, with the reason, where namespaces cannot be made (not root, no iproute2, no veth or tbf).
"""

from __future__ import annotations

import pytest

from dist_llm_train.network.link_probe import measure_link
from dist_llm_train.network.netns import NetnsLab, list_namespaces, tbf_args, unavailable_reason

REASON = unavailable_reason()
needs_netns = pytest.mark.skipif(REASON is not None, reason=f"network namespaces unavailable: {REASON}")


@needs_netns
def test_a_shaped_link_measures_as_configured_and_leaves_nothing_behind():
    up, down, latency = 40.0, 20.0, 40.0
    with NetnsLab() as lab:
        link = lab.add_link("probe-link", up, down, latency)
        got = measure_link(lab, link, seconds=1.0)
        names = set(lab.namespaces)
        assert names <= set(list_namespaces())
    # tbf counts Ethernet/IP/TCP headers, so TCP payload gets ~95% of the rate; the relay's timers add < 15 ms
    assert 2 * latency <= got["rtt_ms"] < 2 * latency + 15, got
    assert 0.85 * down <= got["down_mbps"] <= 1.02 * down, got
    assert 0.85 * up <= got["up_mbps"] <= 1.02 * up, got
    assert not names & set(list_namespaces()), "namespaces left behind"


@needs_netns
def test_a_lab_refuses_bad_links_and_cleans_up_after_an_error():
    lab = NetnsLab()
    try:
        with pytest.raises(ValueError, match="link name"):
            lab.add_link("bad name; rm", 10, 10, 0)
        with pytest.raises(ValueError, match="latency"):
            lab.add_link("ok", 10, 10, -1)
        with pytest.raises(ValueError, match="Mbps"):
            lab.add_link("ok", 0, 10, 0)
    finally:
        names = set(lab.namespaces)
        lab.close()
    assert not names & set(list_namespaces())


def test_tbf_arguments_scale_the_bucket_and_queue_with_the_rate():
    slow, fast = tbf_args("v0", 10), tbf_args("v0", 1000)
    assert slow[slow.index("rate") + 1] == "10000kbit" and fast[fast.index("rate") + 1] == "1000000kbit"
    assert int(slow[slow.index("burst") + 1]) == 64 * 1024  # at least a segmentation-offload packet
    assert int(fast[fast.index("burst") + 1]) == 250_000  # 2 ms at 1 Gbps
    assert int(fast[fast.index("limit") + 1]) > int(slow[slow.index("limit") + 1])
    with pytest.raises(ValueError, match="Mbps"):
        tbf_args("v0", -5)


@needs_netns
def test_a_new_lab_sweeps_namespaces_left_by_a_dead_owner():
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid now belongs to no process
    orphan = f"dlt-{dead.pid}-abcdef-hub"
    subprocess.run(["ip", "netns", "add", orphan], check=True)
    try:
        with NetnsLab() as lab:
            assert orphan not in list_namespaces()
            assert lab.hub in list_namespaces()
    finally:
        if orphan in list_namespaces():
            subprocess.run(["ip", "netns", "del", orphan], check=False)
            raise AssertionError("the orphaned namespace was not swept")
