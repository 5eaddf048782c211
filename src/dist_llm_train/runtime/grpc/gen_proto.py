"""Regenerate ps_pb2.py from ps.proto (developers only; users never need protoc).

    python -m dist_llm_train.runtime.grpc.gen_proto

protoc stamps the generated module with a check that the protobuf runtime is at least the
generator's version (6.x/7.x here), which would lock out users on protobuf 4.25 or 5.x although the
module only needs the descriptor-pool builder API those versions have. The check is removed, and
the module is tested against the installed runtime by tests/runtime/grpc/test_proto.py.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[2]  # the `src` directory: the proto is registered as dist_llm_train/runtime/grpc/ps.proto
_IMPORT = re.compile(r"from google\.protobuf import runtime_version as _runtime_version\n")
_CALL = re.compile(r"_runtime_version\.ValidateProtobufRuntimeVersion\(\n(?:.*\n)*?\)\n")


def strip_runtime_check(source: str) -> str:
    out, n_import = _IMPORT.subn("", source)
    out, n_call = _CALL.subn("", out)
    if "_runtime_version" in out or n_import != n_call:
        raise RuntimeError("generated code changed shape: update gen_proto.strip_runtime_check")
    return out


def main() -> int:
    from grpc_tools import protoc

    proto = HERE / "ps.proto"
    rc = protoc.main(["protoc", f"-I{SRC}", f"--python_out={SRC}", str(proto)])
    if rc != 0:
        return rc
    path = HERE / "ps_pb2.py"
    path.write_text(strip_runtime_check(path.read_text()))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
