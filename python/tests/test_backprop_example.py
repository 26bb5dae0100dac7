"""python/examples/backprop_tutorial.py against the built tt-ckpt: a correct numpy step is
equal to `tt-ckpt trace` within diff's default tolerance, and each planted mistake is named
by diff's hint on the first wrong stage (numpy and safetensors only)."""
import os
import subprocess
import sys

import pytest

from conftest import REPO, binary

SCRIPT = REPO / "python" / "examples" / "backprop_tutorial.py"


def run_example(tmp_path, mistake):
    env = {**os.environ, "TTCKPT_BIN": binary(), "NO_COLOR": "1"}
    checkpoint = tmp_path / "model.ttc"
    subprocess.run([binary(), "init", str(checkpoint)], check=True, capture_output=True, env=env)
    proc = subprocess.run([sys.executable, str(SCRIPT), str(checkpoint), "--mistake", mistake,
                           "--out", str(tmp_path / "mine.safetensors")],
                          capture_output=True, text=True, timeout=300, env=env)
    return proc


def first_difference(stdout):
    lines = [l for l in stdout.splitlines() if l.startswith("first difference: ")]
    assert len(lines) == 1, stdout
    return lines[0][len("first difference: "):]


def test_correct_step_is_equal(tmp_path):
    proc = run_example(tmp_path, "none")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("result: equal within tolerance")
    assert "hint:" not in proc.stdout
    # Every tensor the script saves was compared (46 of the trace's 63).
    assert "compared 46 of the trace's 63 tensors" in proc.stdout


@pytest.mark.parametrize("mistake, first, hint", [
    ("sum", "grad.logits", "4.000×: the summed loss instead of the mean"),
    ("transpose", "layers.0.attn.wo", "transposed: equals the reference with its last two axes swapped"),
    ("gelu", "grad.layers.0.ffn.pre", "GELU′: equals da·(0.5·(1 + tanh u) + z·φ(z))"),
])
def test_planted_mistake_is_named(tmp_path, mistake, first, hint):
    proc = run_example(tmp_path, mistake)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert first_difference(proc.stdout).startswith(f"{first} ({hint}")
    assert proc.stdout.rstrip().endswith("result: different")
