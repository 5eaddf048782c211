"""The end-of-run table formats durations at a useful precision."""

from __future__ import annotations

import pytest
from rich.console import Console

from dist_llm_train.controller.run_result import RunResult
from dist_llm_train.controller.summary_table import human_seconds, summary_table


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0, "0 s"), (4.5e-5, "45.0 µs"), (0.045, "45.0 ms"), (0.9994, "999.4 ms"), (1.0, "1.00 s"),
    (12.345, "12.35 s"), (75.0, "1 min 15.0 s"), (3725.0, "1 h 02 min"),
])
def test_human_seconds(seconds, text):
    assert human_seconds(seconds) == text


def test_table_shows_small_virtual_time(tmp_path):
    summary = {"acceptance_rate": 1.0, "accepted": 2, "submitted": 2, "bytes_up": 10, "bytes_down": 20,
               "filtering": {"byzantine_inputs": 0, "true_positives": 0, "false_positives": 0,
                             "honest_inputs": 2}}
    r = RunResult(name="t", run_dir=None, config={}, kind="causal", model="gpt2-tiny", num_params=1, num_workers=1,
                  worker_names=["w"], worker_regions=["lan"], byzantine_ids=[], server_steps=2, virtual_time=0.045,
                  wall_time=3.2, stopped_by="max_server_steps", curve=[], final={}, summary=summary,
                  utilization=[0.5], wall_breakdown={})
    console = Console(record=True, width=120)
    console.print(summary_table(r))
    text = console.export_text()
    assert "45.0 ms" in text and "0.0 s" not in text
    assert "3.20 s" in text


def test_table_of_a_real_run_without_filtering_counts():
    """`train --runtime local` builds its summary from the server's status, which has no filtering
    counts (a real run has no ground truth of who is Byzantine): the table must not need them."""
    summary = {"acceptance_rate": 0.9, "accepted": 9, "submitted": 10, "bytes_up": 10, "bytes_down": 20,
               "flushes": 9, "workers": []}
    r = RunResult(name="t", run_dir=None, config={}, kind="", model="gpt2-tiny", num_params=0, num_workers=3,
                  worker_names=[], worker_regions=[], byzantine_ids=[], server_steps=9, virtual_time=0.0,
                  wall_time=3.2, stopped_by="max_server_steps", curve=[], final={"loss": 7.5}, summary=summary,
                  utilization=[], wall_breakdown={})
    console = Console(record=True, width=120)
    console.print(summary_table(r))
    text = console.export_text()
    assert "90.0% (9/10)" in text and "7.5000" in text and "filtered" not in text
