"""The suites' configurations and checklists are valid before anything runs."""

import json

import pytest

from dist_llm_train.errors import ConfigError
from dist_llm_train.validation.checklist import check_specs
from dist_llm_train.validation.runner import reference_configs, run_suite, selected_variants, suite_configs
from dist_llm_train.validation.suites import PRESETS_OF, get_suite


@pytest.mark.parametrize("name,preset", [(n, p) for n, ps in PRESETS_OF.items() for p in ps])
def test_every_suite_preset_resolves(name, preset):
    suite = get_suite(name, preset)
    check_specs(suite.checks)
    assert set(suite.variant_checks) <= set(suite.variants)
    for specs in suite.variant_checks.values():
        check_specs(specs)
    base, exp, variants = suite_configs(suite, [])
    assert base.seed == exp.seed and base.max_samples == exp.max_samples
    assert all(v.max_samples == base.max_samples for v in variants.values())
    for ref in reference_configs(suite, []).values():
        assert ref.sync.mode == "sync" and ref.network == exp.network and ref.compression == exp.compression
        assert ref.max_samples == exp.max_samples


@pytest.mark.parametrize("name", ["gpt2", "finetune", "bert-mlm", "wan"])
def test_every_experimental_run_has_more_workers_than_a_step_takes_and_asks_for_asynchrony(name):
    from dist_llm_train.config import buffer_size
    from dist_llm_train.config.cross_checks import num_workers

    suite = get_suite(name, "quick")
    _, exp, _ = suite_configs(suite, [])
    assert exp.sync.mode == "async" and num_workers(exp) > buffer_size(exp)
    items = {s["item"]: s for s in suite.checks}
    assert items["asynchrony_exercised"]["threshold"] == 0.30
    if name != "wan":  # against a LAN baseline: the heterogeneous-speed comparison is gpt2's, finetune's, bert's
        speeds = [w.speed for w in exp.network.workers for _ in range(w.count)]
        assert max(speeds) / min(speeds) >= 5
        assert items["faster_with_async"]["threshold"] == 1.5
        assert list(reference_configs(suite, [])) == ["sync-reference"]


def test_finetune_checks_the_gain_over_the_pretrained_model():
    suite = get_suite("finetune", "quick")
    base, exp, _ = suite_configs(suite, [])
    assert base.model.name == exp.model.name == "smollm2-135m" and base.model.init == "pretrained"
    items = {s["item"]: s for s in suite.checks}
    assert items["gain_retained"]["threshold"] == 0.75 and items["baseline_improves"]["threshold"] == 0.10
    assert exp.compression.codec == "topk:0.05" and exp.byzantine.workers == [0]


def test_gpt2_scores_multikrum_on_input_momentum_and_sets_the_diloco_targets():
    suite = get_suite("gpt2", "quick")
    _, exp, variants = suite_configs(suite, [])
    assert exp.aggregation.rule == "multikrum" and exp.aggregation.momentum == 0.8
    assert exp.optimizer.betas[0] == 0.0  # the first moment moved in front of the aggregator
    targets = {k: [(s["threshold"], s["max_perplexity_change"]) for s in v] for k, v in suite.variant_checks.items()}
    assert targets == {"topk1-fp16": [(100.0, 0.05)], "powersgd4-fp16": [(100.0, 0.05)], "diloco": [(400.0, 0.05)],
                       "diloco-sign": [(400.0, 0.05)], "diloco-powersgd": [(400.0, 0.05)]}
    psgd = variants["powersgd4-fp16"]
    assert psgd.compression.codec == "powersgd:4+fp16" and psgd.compression.error_feedback
    assert psgd.worker.local_steps == 1 and psgd.aggregation == exp.aggregation
    dp = variants["diloco-powersgd"]
    assert dp.compression.codec == "powersgd:4+fp16" and dp.worker.local_steps == 4
    assert dp.worker.local_schedule == "cosine" and dp.optimizer.name == "nesterov"
    assert variants["topk1-fp16"].worker.local_steps == 1 and variants["diloco"].worker.local_steps > 1
    assert variants["topk1-fp16"].compression.codec == variants["diloco"].compression.codec == "topk:0.01+fp16"
    sign = variants["diloco-sign"]
    assert sign.compression.codec == "sign" and sign.compression.error_feedback
    # 1 bit a coordinate, one message per 13 local steps: at least 400x the baseline's fp32 gradients
    assert sign.worker.local_steps * 32 >= 400 and sign.optimizer.name == "nesterov"


def test_named_variants_run_alone_in_the_suites_order_and_unknown_names_are_refused():
    suite = get_suite("gpt2", "quick")
    assert selected_variants(suite, None) == list(suite.variants)
    assert selected_variants(suite, ["diloco-powersgd", "topk1-fp16"]) == ["topk1-fp16", "diloco-powersgd"]
    _, _, only = suite_configs(suite, [], ["powersgd4-fp16"])
    assert list(only) == ["powersgd4-fp16"]
    assert suite_configs(suite, [], [])[2] == {}
    with pytest.raises(ConfigError, match=r"no variant 'dilocco'.*its variants: topk1-fp16, diloco, "):
        selected_variants(suite, ["dilocco"])


def test_one_named_variant_runs_beside_the_baseline(tmp_path):
    short = ["max_server_steps=2", "max_samples=40", "eval.every_steps=1", "eval.max_eval_tokens=128"]
    summary = run_suite("gpt2", "ci", tmp_path, short, with_variants=True, variants=["powersgd4-fp16"],
                        log=lambda _: None)
    results = json.loads((tmp_path / "results.json").read_text())
    variants = results["extra"]["variants"]
    assert list(variants) == ["powersgd4-fp16"]
    assert [t["name"] for t in variants["powersgd4-fp16"]["targets"]] == [
        "Uplink reduction >= 100x at perplexity within 5% of baseline"]
    assert (tmp_path / "powersgd4-fp16").is_dir() and not (tmp_path / "diloco").exists()
    assert summary["report"]


def test_reuse_reads_back_finished_runs_of_the_same_configuration_only(tmp_path):
    short = ["max_server_steps=2", "max_samples=40", "eval.every_steps=1", "eval.max_eval_tokens=128"]
    first = run_suite("gpt2", "ci", tmp_path, short, log=lambda _: None)
    lines: list[str] = []
    again = run_suite("gpt2", "ci", tmp_path, short, log=lines.append, reuse=True)
    assert sum("reusing the finished run" in line for line in lines) == 3  # baseline, experimental, sync reference
    assert again["checklist"] == first["checklist"]
    lines.clear()
    run_suite("gpt2", "ci", tmp_path, [*short, "optimizer.lr=0.002"], log=lines.append, reuse=True)
    assert not any("reusing" in line for line in lines)  # another configuration: every run is run again
