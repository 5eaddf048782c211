"""Network strings are cut and escaped before a log sees them, and refused when too long or not printable."""

import grpc
import pytest

from dist_llm_train.runtime.grpc.bounded import FIELD_LIMITS, bounded, check_field
from dist_llm_train.runtime.grpc.validation import Rejected


def test_bounded_cuts_and_escapes():
    assert bounded("host-1") == "host-1"
    forged = "x\n2026-12-04 INFO forged line\r\x1b[31m"
    out = bounded(forged)
    assert "\n" not in out and "\r" not in out and "\x1b" not in out and "\\n2026" in out
    long = bounded("a" * 10_000, limit=50)
    assert long.startswith("a" * 50) and long.endswith("...(+9950 characters)") and len(long) < 80
    assert bounded(b"\xff\xfeabc") == "\ufffd\ufffdabc"


@pytest.mark.parametrize("name", sorted(FIELD_LIMITS))
def test_check_field_refuses_long_or_unprintable_values(name):
    assert check_field(name, "ok-1.2") == "ok-1.2"
    for bad in ("a" * (FIELD_LIMITS[name] + 1), "a\nb", "a\x00"):
        with pytest.raises(Rejected) as info:
            check_field(name, bad)
        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT and name in info.value.message
        assert "\n" not in info.value.message
