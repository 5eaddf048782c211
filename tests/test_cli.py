import os
import subprocess
import sys


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "dist_llm_train", *args], capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": "src"})


def test_config_check_ok():
    r = _cli("config", "check", "--set", "sync.mode=sync")
    assert r.returncode == 0, r.stderr
    assert "valid configuration" in r.stdout


def test_config_error_is_one_clear_message_without_traceback():
    r = _cli("config", "check", "--set", "sync.mode=asinc")
    assert r.returncode == 2
    assert "sync.mode" in r.stderr and "Traceback" not in r.stderr


def test_list_presets_shows_the_shipped_presets():
    r = _cli("list", "presets")
    assert r.returncode == 0, r.stderr
    assert {"quick", "lan", "multi-region", "diloco", "byzantine"} <= set(r.stdout.split())
    r = _cli("list", "topologies")
    assert r.returncode == 0 and "multi-region (file, network.topology: multi-region)" in r.stdout, r.stderr


def test_a_preset_with_a_topology_file_passes_config_check():
    """Every preset is loaded in-process by tests/config/test_presets.py; this one goes through the command."""
    r = _cli("config", "check", "multi-region")
    assert r.returncode == 0, r.stderr
    assert "ok: multi-region is a valid configuration" in r.stdout


def test_load_time_errors_name_the_key_without_traceback():
    """One process per case costs seconds, so a sample here; tests/config covers every case in-process."""
    cases = {
        "byzantine.params={zz: 3}": "byzantine.params",
        "data.seq_len=4096": "data.seq_len",
        "network.topology=/nonexistent/wan.yaml": "network.topology",
    }
    for override, key in cases.items():
        r = _cli("config", "check", "--set", override)
        assert r.returncode == 2, (override, r.stdout)
        assert f"  - {key}:" in r.stderr and "Traceback" not in r.stderr, (override, r.stderr)


def test_train_with_a_bad_param_stops_before_any_work(tmp_path):
    r = _cli("train", "quick", "--set", "aggregation.params={foo: 1}", "--out", str(tmp_path / "run"))
    assert r.returncode == 2
    assert "aggregation.params: mean: unknown parameter(s) ['foo']" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "run").exists()


def test_train_failing_while_building_is_one_line(tmp_path):
    """A corpus file that exists (so the config is valid) but is too small to split fails while the run is
    built: one message, exit code 2, no traceback."""
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("one paragraph\n\nand another\n")
    r = _cli("train", "quick", "--set", "steps=2", "--set", f"data.corpus=text:{corpus}", "--set", "data.seq_len=32",
             "--set", "runtime.sim_threads=1", "--out", str(tmp_path / "run"))
    assert r.returncode == 2, r.stderr[-2000:]
    assert "error: corpus" in r.stderr and "Traceback" not in r.stderr


def test_serve_failing_while_building_is_one_line(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("one paragraph\n\nand another\n")
    tokens = tmp_path / "tokens.json"
    assert _cli("tokens", "create", "--file", str(tokens), "--workers", "4", "--out-dir", str(tmp_path)).returncode == 0
    r = subprocess.run([sys.executable, "-m", "dist_llm_train", "serve", "quick", "--set", f"data.corpus=text:{corpus}",
                        "--set", "data.seq_len=32", "--port", "0", "--token-file", str(tokens),
                        "--out", str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": "src"})
    assert r.returncode == 2, r.stderr[-2000:]
    assert "error: corpus" in r.stderr and "Traceback" not in r.stderr


def test_validate_refuses_an_unknown_variant_before_training(tmp_path):
    r = _cli("validate", "gpt2", "--preset", "ci", "--variant", "dilocco", "--out", str(tmp_path / "v"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "no variant 'dilocco'" in r.stderr and "diloco-powersgd" in r.stderr
    assert not (tmp_path / "v").exists()
