"""The committed ps_pb2.py works with the installed protobuf and carries no generator-version lock."""

from pathlib import Path

from dist_llm_train.runtime.grpc import gen_proto
from dist_llm_train.runtime.grpc import ps_pb2 as pb
from dist_llm_train.runtime.grpc.wire import METHODS, RAW, SERVICE


def test_generated_module_has_no_runtime_version_check():
    source = Path(pb.__file__).read_text()
    assert "ValidateProtobufRuntimeVersion" not in source
    assert gen_proto.strip_runtime_check(source) == source


def test_messages_round_trip_and_match_the_service_table():
    header = pb.PushHeader(worker_id=3, base_version=7, n_samples=8, total_bytes=10, loss=2.5)
    back = pb.PushHeader.FromString(header.SerializeToString())
    assert back.base_version == 7 and back.loss == 2.5
    svc = pb.DESCRIPTOR.services_by_name["ParameterServer"]
    assert svc.full_name == SERVICE
    framed = {name for name, (req_t, rep_t, _, _) in METHODS.items() if RAW in (req_t, rep_t)}
    assert framed == {"Push", "Pull"}  # byte frames: bound in wire.py, described in ps.proto's comment
    assert sorted(m.name for m in svc.methods) == sorted(set(METHODS) - framed)
    for m in svc.methods:
        req_t, rep_t, req_stream, rep_stream = METHODS[m.name]
        assert m.input_type.full_name == req_t.DESCRIPTOR.full_name
        assert m.output_type.full_name == rep_t.DESCRIPTOR.full_name
        assert (m.client_streaming, m.server_streaming) == (req_stream, rep_stream)


def test_committed_module_matches_the_proto(tmp_path, monkeypatch):
    """Regenerating from ps.proto gives the committed file (nobody edited one without the other)."""
    import shutil

    src = Path(gen_proto.__file__).resolve().parents[3]
    work = tmp_path / "src"
    (work / "dist_llm_train/runtime/grpc").mkdir(parents=True)
    shutil.copy(src / "dist_llm_train/runtime/grpc/ps.proto", work / "dist_llm_train/runtime/grpc/ps.proto")
    monkeypatch.setattr(gen_proto, "HERE", work / "dist_llm_train/runtime/grpc")
    monkeypatch.setattr(gen_proto, "SRC", work)
    assert gen_proto.main() == 0
    fresh = (work / "dist_llm_train/runtime/grpc/ps_pb2.py").read_text()
    assert fresh.split("\n", 5)[5] == Path(pb.__file__).read_text().split("\n", 5)[5]
