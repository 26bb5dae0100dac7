"""Shared fixtures for the Python interop tests.

The tool is found through $TTCKPT_BIN (or $TT_CKPT_BIN), else <repo>/.build/debug/tt-ckpt;
run `swift build` first. Checkpoints are made once per session by the real CLI.
"""
import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))


def binary():
    for var in ("TTCKPT_BIN", "TT_CKPT_BIN"):
        if os.environ.get(var):
            return os.environ[var]
    return str(REPO / ".build" / "debug" / "tt-ckpt")


class Result:
    def __init__(self, proc):
        self.status = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def stderr_lines(self):
        return self.stderr.splitlines()


def run(*args, check=True):
    """Runs tt-ckpt with `args`; with check, asserts exit 0 and returns the Result."""
    proc = subprocess.run([binary(), *map(str, args)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NO_COLOR": "1"})
    result = Result(proc)
    if check:
        assert result.status == 0, f"tt-ckpt {' '.join(map(str, args))} exited {result.status}: {result.stderr}"
    return result


def run_json(*args):
    return json.loads(run(*args).stdout)


def assert_trouble(result, *fragments):
    """Exit 2 with exactly one stderr line `tt-ckpt: ...` containing every fragment."""
    assert result.status == 2, (result.status, result.stderr)
    lines = result.stderr_lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("tt-ckpt: "), lines[0]
    for f in fragments:
        assert f in lines[0], (f, lines[0])


@pytest.fixture(scope="session")
def tool():
    path = binary()
    if not os.access(path, os.X_OK):
        pytest.fail(f"tt-ckpt binary not found at {path}; run `swift build` or set TTCKPT_BIN")
    return path


@pytest.fixture(scope="session")
def checkpoints(tool, tmp_path_factory):
    """Tutorial checkpoints: fresh, trained 30 steps, then trained 20 more in a second
    session (`train` records each session's start in session_starts; `resume` continues a
    session invisibly), and a small gpt-arch model trained a few steps."""
    d = tmp_path_factory.mktemp("ckpts")
    init = d / "init.ttc"
    trained = d / "trained.ttc"
    resumed = d / "resumed.ttc"
    gpt = d / "gpt.ttc"
    run("init", init)
    run("train", init, "--steps", 30, "-o", trained, "--quiet")
    run("train", trained, "--steps", 20, "-o", resumed, "--quiet")
    corpus = d / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 40)
    run("init", gpt, "--arch", "gpt", "--tokenizer", "char", "--data", corpus,
        "--d-model", 16, "--heads", 2, "--d-ff", 32, "--layers", 2, "--context", 16)
    run("train", gpt, "--data", corpus, "--steps", 5, "--quiet")
    # A gpt run that uses every optimizer setting and B > 1 (random windows, so the
    # generator and the data cursor move): word tokens, warmup + cosine, clipping,
    # norm/bias exempt from decay.
    words = d / "words.txt"
    words.write_text(WORDS_TEXT)
    gpt_opts = d / "gpt_opts.ttc"
    run("init", gpt_opts, "--arch", "gpt", "--tokenizer", "word", "--data", words, "--d-model", 16, "--heads", 4,
        "--d-ff", 24, "--layers", 2, "--context", 8, "--seed", 7)
    run("train", gpt_opts, "--data", words, "--steps", 6, "--batch-size", 4, "--schedule", "cosine", "--warmup", 3,
        "--decay-steps", 40, "--grad-clip", 0.5, "--no-decay-norm-bias", "--weight-decay", 0.1, "--lr", 3e-3, "--quiet")
    return {"dir": d, "init": init, "trained": trained, "resumed": resumed, "gpt": gpt, "corpus": corpus,
            "gpt_opts": gpt_opts, "words": words}


# Words separated by several kinds of White_Space (tab, no-break space, ideographic space)
# and a U+001F, which Python's str.split() would split on but White_Space does not.
WORDS_TEXT = ("the cat sat on the mat .\tthe dog sat on the log .\u00a0a cat and a dog\u3000met on the mat . "
              "un\u001fit <EOS> the end\n") * 12
