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
