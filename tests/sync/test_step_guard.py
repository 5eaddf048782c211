"""The server step's guard: absurd updates refused before aggregation, a step that would make any state
non-finite refused with nothing changed, and a checkpoint of the state stays finite."""

import pytest
import torch

from dist_llm_train.aggregation import make_aggregator
from dist_llm_train.checkpoint import CheckpointManager
from dist_llm_train.config.schema import OptimizerConfig
from dist_llm_train.layout import ParamLayout
from dist_llm_train.sync import BoundedAsyncCoordinator, ParameterServer
from dist_llm_train.sync.server_optimizer import ServerOptimizer
from dist_llm_train.sync.sparse import SparseUpdate
from dist_llm_train.sync.step_guard import StepGuard, StepRefused, max_abs

N = 3000


def make_server(opt="adamw", **kw):
    torch.manual_seed(0)
    coord = BoundedAsyncCoordinator(num_workers=2, max_staleness=10, aggregator=make_aggregator("mean", f=0))
    return ParameterServer(initial_params=torch.randn(N), layout=ParamLayout([("w", (N,))]), coordinator=coord,
                           optimizer=OptimizerConfig(name=opt, lr=0.01, **kw), guard=StepGuard(chunk=1000))


def test_max_abs_sees_nan_and_inf():
    assert max_abs(torch.tensor([1.0, -3.0, 2.0])) == 3.0
    assert max_abs(torch.tensor([1.0, float("-inf")])) == float("inf")
    assert max_abs(torch.tensor([float("nan"), 1.0])) != max_abs(torch.tensor([float("nan"), 1.0]))


@pytest.mark.parametrize("opt", ["adamw", "adam", "sgd", "momentum", "nesterov"])
def test_one_push_of_3e38_is_refused_and_honest_training_goes_on(opt):
    ps = make_server(opt)
    for _ in range(3):
        ps.submit(torch.randn(N) * 0.1, ps.version, worker_id=0)
    before = {k: v.clone() for k, v in ps.state_dict().items()}
    res = ps.submit(torch.full((N,), 3e38), ps.version, worker_id=1)
    assert not res.admission.accepted and res.admission.reason == "too_large" and res.flushed is None
    assert all(torch.equal(before[k], v) for k, v in ps.state_dict().items()), "the refused update changed state"
    assert ps.coordinator.stats[1].rejected["too_large"] == 1 and ps.guard.refused["too_large"] == 1
    params = ps.params.clone()
    res = ps.submit(torch.randn(N) * 0.1, ps.version, worker_id=0)
    assert res.flushed is not None and not torch.equal(ps.params, params), "honest updates still move the model"
    assert all(bool(torch.isfinite(v).all()) for v in ps.state_dict().values() if v.is_floating_point())


def test_a_sparse_update_is_checked_too():
    ps = make_server()
    sparse = SparseUpdate(torch.tensor([1, 5]), torch.tensor([1.0, 1e30]), N)
    res = ps.submit(sparse, 0, worker_id=0)
    assert res.admission.reason == "too_large" and ps.version == 0


def test_a_step_that_would_overflow_the_state_is_refused_and_nothing_changes():
    opt = ServerOptimizer(N, OptimizerConfig(name="adamw", lr=0.01))
    params = torch.randn(N)
    opt.step(params, torch.randn(N))
    # a state at the edge of fp32 (a huge first moment over a zero second moment): the next step's
    # m / (sqrt(v) + eps) overflows the parameters at that coordinate
    opt.state["exp_avg"][2500], opt.state["exp_avg_sq"][2500] = 3e38, 0.0
    guard = StepGuard(chunk=1000)
    before = (params.clone(), {k: v.clone() for k, v in opt.state.items()}, opt.step_count)
    with pytest.raises(StepRefused, match="would have made the parameters non-finite"):
        guard.step(opt, params, torch.zeros(N))
    assert torch.equal(params, before[0]) and opt.step_count == before[2]
    assert all(torch.equal(opt.state[k], before[1][k]) for k in opt.state)
    assert guard.refused["step_non_finite_state"] == 1


def test_the_trial_is_exactly_the_step():
    """A step the guard allows is the optimizer's own step, bit for bit (the trial runs on copies)."""
    for name in ("adamw", "nesterov", "sgd"):
        a, b = ServerOptimizer(N, OptimizerConfig(name=name, lr=0.01, weight_decay=0.1)), \
            ServerOptimizer(N, OptimizerConfig(name=name, lr=0.01, weight_decay=0.1))
        pa, pb = torch.randn(N), None
        pb = pa.clone()
        guard = StepGuard(chunk=700)
        for _ in range(3):
            u = torch.randn(N)
            assert guard.step(a, pa, u) == b.step(pb, u)
        assert torch.equal(pa, pb) and all(torch.equal(a.state[k], b.state[k]) for k in a.state)


def test_a_refused_aggregate_leaves_the_server_as_it_was(tmp_path):
    ps = make_server()
    ps.guard.max_abs = 10.0
    res = ps.submit(torch.full((N,), 5.0), 0, worker_id=0)
    assert res.flushed is not None and ps.version == 1
    ps.guard.max_abs = 1.0
    with pytest.raises(StepRefused, match="aggregated update was refused"):
        ps.apply(torch.full((N,), 5.0))
    assert ps.version == 1
    path = CheckpointManager(tmp_path).save(ps, ps.coordinator)  # the state it keeps is finite and checkpointable
    assert path.is_dir()


@pytest.mark.parametrize("opt", ["adamw", "adam", "sgd", "momentum", "nesterov"])
def test_ordinary_steps_are_bounded_without_a_trial_and_extreme_ones_are_tried(opt):
    o = ServerOptimizer(N, OptimizerConfig(name=opt, lr=0.01, weight_decay=0.1))
    params, guard = torch.randn(N), StepGuard(chunk=1000)
    for _ in range(3):
        guard.step(o, params, torch.randn(N))
    assert guard.trials == 0, "a step of ordinary values needs no trial"
    params[7] = 1e37  # finite, but too close to fp32's end for the bound
    try:
        guard.step(o, params, torch.randn(N))  # applied if the trial stays finite
    except StepRefused:
        assert opt == "adam", "only Adam's L2 term squares 1e37 into an overflow"
    assert guard.trials == 1 and torch.isfinite(params).all()
    assert all(bool(torch.isfinite(v).all()) for v in o.state.values())


def test_the_bound_is_an_upper_bound():
    """Whatever the step computes stays below output_bound (random states of every optimizer)."""
    torch.manual_seed(1)
    for name in ("adamw", "adam", "sgd", "momentum", "nesterov"):
        o = ServerOptimizer(N, OptimizerConfig(name=name, lr=0.3, weight_decay=0.2))
        params = torch.randn(N) * 50
        for k in o.state:
            o.state[k].copy_(torch.rand(N) * 20 if k == "exp_avg_sq" else torch.randn(N) * 20)
        u = torch.randn(N) * 100
        lr, t = o.next_step()
        bound = o.output_bound(max_abs(params), {k: max_abs(v) for k, v in o.state.items()}, max_abs(u), lr, t)
        o.step(params, u)
        largest = max([max_abs(params), *(max_abs(v) for v in o.state.values())])
        assert largest <= bound, (name, largest, bound)
