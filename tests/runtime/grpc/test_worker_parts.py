"""A worker process's parts: with local steps, one that joins late starts its inner lr schedule
where a worker of the run would be by then, not at the warm-up."""

import pytest
import torch

from dist_llm_train.config import load_config
from dist_llm_train.controller.assembly import planned_local_steps
from dist_llm_train.runtime.grpc.assembly import build_worker_parts

CFG = {"model": {"name": "gpt2-tiny"}, "data": {"corpus": "wiki", "seq_len": 16, "batch_size": 2},
       "network": {"preset": "lan", "num_workers": 3}, "sync": {"mode": "sync"},
       "max_server_steps": 20, "max_samples": 12,
       "worker": {"local_steps": 2, "local_schedule": "cosine", "local_warmup_steps": 3}}


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """build_worker_parts sets the process's torch threads, as a worker process should; not this one's."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_a_worker_joining_at_version_v_takes_its_place_on_the_inner_schedule():
    cfg = load_config(CFG)
    first = build_worker_parts(cfg, 0).logic.local_opt
    late = build_worker_parts(cfg, 1, server_version=5).logic.local_opt
    assert first.schedule_step == 0 and first.t == 0
    assert late.schedule_step == 5 * 2 and late.t == 0  # sync: every worker in every step, H = 2 each
    # the gRPC server stops at max_server_steps only, so the span ignores max_samples
    assert late.total_steps == planned_local_steps(cfg, 3, sample_budget=False) == 40
    assert late.lr_at(late.schedule_step) < late.lr


def test_without_local_steps_there_is_no_inner_optimizer():
    cfg = load_config({**CFG, "worker": {"local_steps": 1}})
    assert build_worker_parts(cfg, 0, server_version=5).logic.local_opt is None
