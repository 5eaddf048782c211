import pytest

from dist_llm_train.errors import PreconditionError
from dist_llm_train.validation.curves import axis_value, first_crossing, initial_value, sample_axis, series


def _curve(points):
    return [{"step": s, "samples": n, "virtual_time": t, "bytes_up": u, "bytes_down": d, "loss": loss}
            for s, n, t, u, d, loss in points]


CURVE = _curve([(0, 0, 0.0, 0, 0, 6.0), (10, 80, 50.0, 100, 900, 5.0), (20, 160, 100.0, 200, 1800, 4.0),
                (30, 240, 150.0, 300, 2700, 4.5)])


def test_crossing_is_interpolated_between_the_points_around_it():
    # 5.0 at step 10, 4.0 at step 20: 4.25 is three quarters of the way
    assert first_crossing(CURVE, 4.25, "step") == pytest.approx(17.5)
    assert first_crossing(CURVE, 4.25, "samples") == pytest.approx(140.0)
    assert first_crossing(CURVE, 4.25, "virtual_time") == pytest.approx(87.5)
    assert first_crossing(CURVE, 4.25, "bytes") == pytest.approx(1000 + 0.75 * 1000)


def test_crossing_exactly_on_a_point_and_the_first_crossing_wins():
    assert first_crossing(CURVE, 5.0, "step") == pytest.approx(10.0)
    # 4.5 is crossed between steps 10 and 20 (at 15), not at the later point 30 where loss is 4.5 again
    assert first_crossing(CURVE, 4.5, "step") == pytest.approx(15.0)


def test_never_reached_and_reached_at_start():
    assert first_crossing(CURVE, 3.9, "step") is None
    assert first_crossing(CURVE, 7.0, "step") == 0.0


def test_points_without_a_loss_or_with_nan_are_skipped():
    curve = _curve([(0, 0, 0.0, 0, 0, 6.0), (10, 80, 50.0, 0, 0, float("nan")), (20, 160, 100.0, 0, 0, 4.0)])
    curve.insert(1, {"step": 5, "samples": 40, "virtual_time": 25.0, "bytes_up": 0, "bytes_down": 0})
    assert series(curve, "step") == ([0.0, 20.0], [6.0, 4.0])
    assert first_crossing(curve, 5.0, "step") == pytest.approx(10.0)


def test_unknown_axis_is_a_clear_error():
    with pytest.raises(PreconditionError, match="allowed: step, samples"):
        axis_value(CURVE[0], "epochs")


def test_sample_axis_prefers_processed_samples_only_when_every_curve_has_them():
    with_processed = [{**p, "samples_processed": p["samples"] * 2} for p in CURVE]
    assert sample_axis(with_processed, with_processed) == "samples_processed"
    assert sample_axis(with_processed, CURVE) == "samples"


def test_initial_value_is_the_first_evaluation():
    assert initial_value(CURVE) == 6.0
    assert initial_value([{"step": 0}], "loss") is None
