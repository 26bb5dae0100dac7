"""Shell completions, --help examples, --version, and the file(1) magic entry."""
import pathlib
import shutil
import subprocess

import pytest

from conftest import REPO, run

SUBCOMMANDS = ["export", "import", "plot"]  # this suite's commands; others test their own


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(tool, shell):
    script = run("--generate-completion-script", shell).stdout
    for name in SUBCOMMANDS:
        assert name in script, (shell, name)
    checker = {"bash": ["bash", "-n"], "zsh": ["zsh", "-n"], "fish": ["fish", "--no-execute"]}[shell]
    if shutil.which(checker[0]) is None:
        pytest.skip(f"{checker[0]} not installed to syntax-check the script")
    proc = subprocess.run(checker, input=script, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_has_example(tool, command):
    text = run(command, "--help").stdout
    assert "Example" in text and f"tt-ckpt {command} " in text


def test_version(tool):
    assert run("--version").stdout.strip().count(".") == 2


MAGIC = REPO / "spec" / "ttc.magic"


@pytest.mark.skipif(not MAGIC.exists(), reason="spec/ttc.magic not in this tree yet")
@pytest.mark.skipif(shutil.which("file") is None, reason="file(1) not installed")
def test_file_magic_recognizes_ttc(checkpoints, tmp_path):
    ckpt = checkpoints["trained"]
    out = subprocess.run(["file", "-m", str(MAGIC), str(ckpt)], capture_output=True, text=True, check=True).stdout
    assert "tt-ckpt" in out.lower() or "ttc" in out.lower(), out
    # Not a .ttc: a safetensors export must not match.
    other = tmp_path / "x.safetensors"
    run("export", ckpt, other)
    out = subprocess.run(["file", "-m", str(MAGIC), str(other)], capture_output=True, text=True, check=True).stdout
    assert "tt-ckpt" not in out.lower(), out
