"""ttckpt.torch_ref and examples/train_ddp.py against the Swift engine. Needs torch; skipped
(with the reason shown by `pytest -rs`) when it is absent. CI does not install torch.

How the engine's gradient is read without a hook: `tt-ckpt train CKPT --steps 1 --beta1 0
--grad-clip 0` stores m = 0·m + 1·g = g exactly (the engine's AdamW computes β1·m + (1−β1)·g
in float32 with β1 = 0 and 1−β1 = 1), so adam_m of its output is the gradient of the batch
drawn at CKPT's generator state, bit for bit; its loss history ends with that batch's loss.

Figures (loss and gradient agreement, parameter differences after 20 steps) are printed as
`FIGURE ...` lines: run with -s to see them.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (kept out of CI); these tests compare the "
                                            "PyTorch reference with the engine")

import ttckpt  # noqa: E402
from ttckpt import data as ttdata  # noqa: E402
from ttckpt import torch_ref  # noqa: E402
from conftest import REPO, assert_trouble, run  # noqa: E402

EXAMPLE = REPO / "python" / "examples" / "train_ddp.py"
CASES = ["init", "trained", "gpt", "gpt_opts", "padded", "gpt-tiny.ttc"]


def figure(text):
    print(f"FIGURE {text}")


@pytest.fixture(scope="session")
def padded(tool, tmp_path_factory):
    """A gpt run on words with <PAD> in the text (those targets are ignored by the loss) and
    T = 20 (≥ 16: the engine's GEMM attention path), B = 3."""
    d = tmp_path_factory.mktemp("padded")
    corpus = d / "pad.txt"
    corpus.write_text(("one <PAD> two three <PAD> <PAD> four five six <BOS> seven eight <EOS> nine ten " * 30))
    ckpt = d / "pad.ttc"
    run("init", ckpt, "--arch", "gpt", "--tokenizer", "word", "--data", corpus, "--d-model", 24, "--heads", 3,
        "--d-ff", 40, "--layers", 2, "--context", 20, "--seed", 3)
    run("train", ckpt, "--data", corpus, "--steps", 3, "--batch-size", 3, "--lr", 1e-2, "--quiet")
    return {"ckpt": ckpt, "corpus": corpus}


def case(checkpoints, padded, which):
    """(checkpoint path, corpus path or None)."""
    if which == "padded":
        return padded["ckpt"], padded["corpus"]
    if which.endswith(".ttc"):
        return REPO / "samples" / which, REPO / "samples" / "corpus.txt"
    corpus = {"gpt": checkpoints["corpus"], "gpt_opts": checkpoints["words"]}.get(which)
    return checkpoints[which], corpus


def data_args(corpus):
    return ["--data", corpus] if corpus is not None else []


def engine_gradient(path, corpus, tmp_path):
    """(loss, {name: gradient}) of the engine's next step from `path` (see the module doc)."""
    out = tmp_path / "grad.ttc"
    run("train", path, *data_args(corpus), "--steps", 1, "--beta1", 0, "--grad-clip", 0, "-o", out, "--quiet")
    g = ttckpt.read(out)
    return g.training.loss_history[-1], g.by_role("adam_m")


def rel_l2(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    nb = np.linalg.norm(b)
    return np.linalg.norm(a - b) / nb if nb > 0 else np.linalg.norm(a - b)


def flat(ckpt, role):
    return np.concatenate([t.values.ravel() for t in ckpt.tensors if t.role == role]).astype(np.float64)


@pytest.mark.parametrize("which", CASES)
def test_loss_and_gradients_match_the_engine(checkpoints, padded, tmp_path, which):
    """Tolerance 1e-5 relative ℓ2 per tensor: both sides compute in float32 with different
    summation orders and exp/log implementations (the engine's Cephes exp, its own GELU and
    LayerNorm loops); measured 1e-7 ... 2e-6, about 10 float32 ulps of accumulated rounding."""
    path, corpus = case(checkpoints, padded, which)
    ckpt = ttckpt.read(path)
    data = ttdata.resolve_data(ckpt, None if corpus is None else str(corpus), str(path))
    engine_loss, engine_grads = engine_gradient(path, corpus, tmp_path)
    model = torch_ref.build_model(ckpt.config)
    torch_ref.load_parameters(model, ckpt.by_role("parameter"))
    sampler = ttckpt.BatchSampler(data.tokens, ckpt.config.context, ckpt.training.batch_size, ckpt.vocab.pad_id)
    batch = sampler.next_batch(ckpt.training.rng.to_random())
    if which == "padded":
        assert batch.target_count < batch.targets.size  # some targets are <PAD>, ignored
    total, count = torch_ref.loss_sum(model(torch.from_numpy(batch.tokens)), torch.from_numpy(batch.targets))
    loss = total / count
    loss.backward()
    loss_rel = abs(loss.item() - float(engine_loss)) / abs(float(engine_loss))
    assert loss_rel <= 1e-5, (loss.item(), engine_loss)
    worst = 0.0
    grads, ref = [], []
    for name, p in model.canonical_parameters():
        r = rel_l2(p.grad.numpy(), engine_grads[name])
        worst = max(worst, r)
        assert r <= 1e-5, (name, r)
        grads.append(p.grad.numpy().ravel())
        ref.append(engine_grads[name].ravel())
    figure(f"gradients {which}: loss rel {loss_rel:.2e}, worst tensor rel l2 {worst:.2e}, "
           f"all rel l2 {rel_l2(np.concatenate(grads), np.concatenate(ref)):.2e}")


@pytest.mark.parametrize("which", ["trained", "gpt_opts", "padded"])
def test_one_adamw_step_matches_the_engine(checkpoints, padded, tmp_path, which):
    """torch.optim.AdamW built from the checkpoint (moments, step, groups, schedule), given the
    engine's gradient and tt-ckpt's clipping, against the engine's own step: max |Δ| ≤ 1e-6 on
    parameters and both moments (the formulas are the same; only rounding differs, ~1 ulp of
    the update, lr ≤ 1e-2: the measured max |Δ| is below 1e-8)."""
    path, corpus = case(checkpoints, padded, which)
    ckpt = ttckpt.read(path)
    _, grads = engine_gradient(path, corpus, tmp_path)
    after = tmp_path / "after.ttc"
    run("resume", path, *data_args(corpus), "--steps", 1, "-o", after, "--quiet")
    engine = ttckpt.read(after)
    o = ckpt.training.optimizer
    model = torch_ref.build_model(ckpt.config)
    torch_ref.load_parameters(model, ckpt.by_role("parameter"))
    m, v = ckpt.by_role("adam_m"), ckpt.by_role("adam_v")
    opt, sched = torch_ref.make_optimizer(model, o, ckpt.training.step, {n: (m[n], v[n]) for n in m})
    assert len(opt.param_groups) == (2 if o.exempt_norm_and_bias else 1)
    t = ckpt.training.step + 1
    assert opt.param_groups[0]["lr"] == o.lr_at(t)
    for name, p in model.canonical_parameters():
        p.grad = torch.from_numpy(grads[name].copy())
    norm = torch_ref.clip_gradients(model.parameters(), o.grad_clip)
    if which == "gpt_opts":
        assert o.grad_clip > 0 and norm > o.grad_clip and o.exempt_norm_and_bias  # clipping and groups in play
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == o.lr_at(t + 1)
    worst = {}
    for name, p in model.canonical_parameters():
        s = opt.state[p]
        assert float(s["step"]) == t
        for role, mine in (("parameter", p.detach().numpy()), ("adam_m", s["exp_avg"].numpy()),
                           ("adam_v", s["exp_avg_sq"].numpy())):
            theirs = engine.by_role(role)[name]
            d = float(np.abs(mine.astype(np.float64) - theirs).max())
            worst[role] = max(worst.get(role, 0.0), d)
            assert d <= 1e-6, (role, name, d)
    figure(f"adamw step {which} (t={t}, lr {o.lr_at(t):.3g}, clip {'on' if norm > o.grad_clip > 0 else 'off'}): "
           + ", ".join(f"{k} max|Δ| {v:.2e}" for k, v in worst.items()))


@pytest.mark.parametrize("which", ["trained", "gpt_opts", "padded"])
def test_state_round_trip_is_lossless(checkpoints, padded, which):
    """.ttc → (module, AdamW, scheduler, generator, cursor) → .ttc without a step gives the
    same bytes (tool version aside): nothing is lost either way."""
    path, corpus = case(checkpoints, padded, which)
    ckpt = ttckpt.read(path)
    data = ttdata.resolve_data(ckpt, None if corpus is None else str(corpus), str(path))
    back = torch_ref.Session(ckpt, data).to_checkpoint().replace(tool_version=ckpt.tool_version)
    assert ttckpt.encode(back) == path.read_bytes()


def test_schedule_is_the_engines(checkpoints, tmp_path):
    """The lr of every step from `train --json` (printed as shortest round-trip doubles)
    equals TTCSchedule's, through warmup, cosine decay and the floor."""
    out = tmp_path / "s.ttc"
    lines = run("train", checkpoints["init"], "--steps", 14, "--schedule", "cosine", "--warmup", 4, "--decay-steps",
                10, "--min-lr-ratio", 0.2, "--lr", 0.01, "--json", "--log-every", 1, "-o", out).stdout.splitlines()
    engine = [json.loads(line)["lr"] for line in lines]
    ckpt = ttckpt.read(out)
    model = torch_ref.build_model(ckpt.config)
    opt, sched = torch_ref.make_optimizer(model, ckpt.training.optimizer, 0)
    mine = []
    for _ in range(14):
        mine.append(opt.param_groups[0]["lr"])
        opt.step()  # no gradients: changes nothing, keeps the scheduler's order check quiet
        sched.step()
    assert mine == engine


@pytest.mark.parametrize("which", ["trained", "gpt_opts", "padded"])
def test_twenty_steps_in_one_process(checkpoints, padded, tmp_path, which):
    path, corpus = case(checkpoints, padded, which)
    ckpt = ttckpt.read(path)
    data = ttdata.resolve_data(ckpt, None if corpus is None else str(corpus), str(path))
    session = torch_ref.Session(ckpt, data)
    for _ in range(20):
        session.train_step()
    mine = session.to_checkpoint()
    out = tmp_path / "e.ttc"
    run("resume", path, *data_args(corpus), "--steps", 20, "-o", out, "--quiet")
    compare_runs(mine, ttckpt.read(out), f"1 process, {which}")


def compare_runs(mine, engine, label):
    """Loss history within 1e-4 relative (the issue's bound); counters, generator and cursor
    identical; parameters and moments within the tolerance justified below."""
    t, e = mine.training, engine.training
    assert (t.step, t.tokens_seen, t.windows_drawn, t.session_starts) == (e.step, e.tokens_seen, e.windows_drawn,
                                                                          e.session_starts)
    assert t.rng == e.rng and t.data == e.data and t.optimizer == e.optimizer
    loss_rel = np.abs(t.loss_history.astype(np.float64) - e.loss_history) / np.abs(e.loss_history)
    assert loss_rel.max() <= 1e-4, loss_rel.max()
    figures = []
    for role in ("parameter", "adam_m", "adam_v"):
        a, b = flat(mine, role), flat(engine, role)
        figures.append(f"{role} max|Δ| {np.abs(a - b).max():.2e} rel l2 {rel_l2(a, b):.2e}")
    a, b = flat(mine, "parameter"), flat(engine, "parameter")
    # Parameters after 20 steps, 2e-5 in max |Δ| and relative ℓ2. Both sides take the same
    # steps with float32 rounding differences: gradients agree to ~1e-6 relative (test above)
    # and one AdamW step to ≤ 6e-8. The bound allows every update to disagree by 1e-4 of lr
    # (100× the gradient disagreement) for 20 steps at lr ≤ 1e-2: 20·1e-2·1e-4 = 2e-5. It
    # still fails on changes in what is computed: a per-rank mean instead of the W·Σ/N
    # weighting moves the loss by 4% (checked by hand), decay of an exempt γ by lr·wd·γ ≈ 3e-4
    # in one step, a missing bias correction by ~lr. Measured: 3e-8 ... 3e-7.
    assert np.abs(a - b).max() <= 2e-5 and rel_l2(a, b) <= 2e-5
    figure(f"20 steps {label}: loss history max rel {loss_rel.max():.2e}; " + "; ".join(figures))


# --- torchrun ---------------------------------------------------------------------------------

def torchrun(*args, nproc=2, check=True):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
           str(EXAMPLE), *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "python")})
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="session")
def ddp_run(checkpoints, tmp_path_factory):
    """20 steps under torchrun with 2 ranks, and 20 tt-ckpt steps, from the same file."""
    d = tmp_path_factory.mktemp("ddp")
    src, corpus = checkpoints["gpt_opts"], checkpoints["words"]
    out, ref = d / "ddp.ttc", d / "ref.ttc"
    proc = torchrun(src, "--steps", 20, "--data", corpus, "-o", out, "--json")
    run("resume", src, "--data", corpus, "--steps", 20, "-o", ref, "--quiet")
    return {"src": src, "corpus": corpus, "out": out, "ref": ref, "stdout": proc.stdout, "dir": d}


def test_ddp_two_ranks_agree_with_the_engine(ddp_run):
    lines = [json.loads(x) for x in ddp_run["stdout"].splitlines() if x.startswith("{")]
    assert [x["world_size"] for x in lines] == [2] * 20 and lines[-1]["step"] == 26
    compare_runs(ttckpt.read(ddp_run["out"]), ttckpt.read(ddp_run["ref"]), "torchrun 2 ranks (DDP, gloo), gpt_opts B=4")
    # The tools accept the file.
    assert "all 87 tensors ok" in run("inspect", ddp_run["out"], "--verify").stdout
    diff = run("diff", ddp_run["out"], ddp_run["ref"], "--rtol", "1e-4", "--atol", "1e-6", "--json", check=False)
    assert diff.status == 0, diff.stdout[-2000:]
    text = run("sample", ddp_run["out"], "--prompt", "the", "--tokens", 8, "--temperature", 0).stdout
    assert text.startswith("the")


def test_ddp_uneven_shards_with_pad_targets(padded, tmp_path):
    """B = 3 over 2 ranks (rows 0 | 1-2) on a corpus with <PAD> targets: the ranks' target
    counts differ, so only the W·Σ/N weighting (not a per-rank mean) gives the engine's loss
    and gradient."""
    ckpt = ttckpt.read(padded["ckpt"])
    data = ttdata.resolve_data(ckpt, str(padded["corpus"]), "pad.ttc")
    sampler = ttckpt.BatchSampler(data.tokens, ckpt.config.context, 3, ckpt.vocab.pad_id)
    rng = ckpt.training.rng.to_random()
    counts = [((b.targets[0:1] != -1).sum(), (b.targets[1:3] != -1).sum())
              for b in (sampler.next_batch(rng) for _ in range(10))]
    assert any(2 * a != b for a, b in counts)  # per-rank means would weight targets unequally
    out, ref = tmp_path / "ddp.ttc", tmp_path / "ref.ttc"
    torchrun(padded["ckpt"], "--steps", 20, "--data", padded["corpus"], "-o", out, "--quiet")
    run("resume", padded["ckpt"], "--data", padded["corpus"], "--steps", 20, "-o", ref, "--quiet")
    compare_runs(ttckpt.read(out), ttckpt.read(ref), "torchrun 2 ranks (DDP, gloo), padded B=3 uneven shards")


def test_resume_after_the_round_trip_keeps_learning(ddp_run, tmp_path):
    out = tmp_path / "more.ttc"
    run("resume", ddp_run["out"], "--data", ddp_run["corpus"], "--steps", 60, "-o", out, "--quiet")
    losses = ttckpt.read(out).training.loss_history
    before = ttckpt.read(ddp_run["src"]).training.loss_history
    ddp = losses[len(before):len(before) + 20]
    after = losses[len(before) + 20:]
    # Batches are random windows, so compare means over 10-step spans.
    means = [float(np.mean(x)) for x in (before[-6:], ddp[:10], ddp[10:], after[:10], after[-10:])]
    figure("mean loss: before " + ", then ".join(f"{m:.4f}" for m in means))
    assert means == sorted(means, reverse=True), means


def test_fsdp_two_ranks_with_dcp(ddp_run, tmp_path):
    """FSDP2 (fully_shard) on CPU with gloo: 20 steps, saved with torch.distributed.checkpoint,
    converted to .ttc. It agrees with tt-ckpt as DDP does; with 2 ranks it is even bit-identical
    to the DDP run (halving and adding two floats is exact, and the forward sees the same
    gathered weights)."""
    out, dcp = tmp_path / "fsdp.ttc", tmp_path / "run.dcp"
    torchrun(ddp_run["src"], "--steps", 20, "--data", ddp_run["corpus"], "-o", out, "--fsdp", "--dcp", dcp,
             "--quiet")
    assert sorted(os.listdir(dcp)) == [".metadata", "__0_0.distcp", "__1_0.distcp"]
    mine = ttckpt.read(out)
    compare_runs(mine, ttckpt.read(ddp_run["ref"]), "torchrun 2 ranks (FSDP2, gloo), gpt_opts B=4")
    # The DCP directory converts on its own, in one process, to the same file.
    again = tmp_path / "again.ttc"
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--from-dcp", str(dcp), "-o", str(again)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert again.read_bytes() == out.read_bytes()
    same = ttckpt.encode(mine) == ttckpt.encode(ttckpt.read(ddp_run["out"]))
    figure(f"FSDP2 output bit-identical to DDP output: {same}")
    assert same


def test_train_ddp_refuses_what_resume_refuses(checkpoints, tmp_path):
    def example(*args):
        return subprocess.run([sys.executable, str(EXAMPLE), *map(str, args)], capture_output=True, text=True)
    out = tmp_path / "o.ttc"
    other = tmp_path / "other.txt"
    other.write_text("the cat sat on the mat .")
    cases = [
        ((checkpoints["gpt_opts"], "--steps", 2, "--data", other, "-o", out), "is not the data"),
        ((checkpoints["gpt_opts"], "--steps", 2, "-o", out), "--data: required"),
        ((checkpoints["init"], "--steps", 2, "-o", out), "has never been trained"),
        ((checkpoints["gpt_opts"], "--steps", 0, "-o", out), "--steps: must be at least 1"),
        ((tmp_path / "missing.ttc", "--steps", 2, "-o", out), "cannot open"),
    ]
    for args, fragment in cases:
        proc = example(*args)
        assert proc.returncode == 2 and fragment in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith("train_ddp.py: ")
        assert not out.exists()
    # And tt-ckpt says the same about the other data.
    assert_trouble(run("resume", checkpoints["gpt_opts"], "--data", other, "--steps", 1, check=False),
                   "is not the data")


# --- gpt2 against transformers ------------------------------------------------------------------

def test_gpt2_matches_transformers():
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    cfg = transformers.GPT2Config(vocab_size=97, n_positions=24, n_embd=32, n_layer=2, n_head=4,
                                  resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():  # nonzero biases and LayerNorm parameters, so every term counts
        for p in hf.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    ref = torch_ref.build_model(torch_ref.GPT2Config(vocab_size=97, n_positions=24, n_embd=32, n_layer=2, n_head=4))
    missing, unexpected = ref.load_state_dict(hf.state_dict(), strict=False)
    assert missing == [] and set(unexpected) <= {"lm_head.weight"} | {k for k in unexpected if k.endswith(
        (".attn.bias", ".attn.masked_bias"))}
    assert [n for n, _ in ref.named_parameters()] == ref.canonical_names()
    tokens = torch.randint(0, 97, (3, 24), generator=torch.Generator().manual_seed(1))
    targets = tokens.roll(-1, 1)
    ours = ref(tokens)
    theirs = hf(tokens).logits
    # Same float32 ops in the same order up to the attention kernel (transformers may use
    # SDPA): agreement to a few ulps of the logits.
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-5), (ours - theirs).abs().max()
    Fn = torch.nn.functional
    Fn.cross_entropy(ours.reshape(-1, 97), targets.reshape(-1)).backward()
    Fn.cross_entropy(theirs.reshape(-1, 97), targets.reshape(-1)).backward()
    hf_params = dict(hf.named_parameters())
    for name, p in ref.named_parameters():
        assert rel_l2(p.grad.numpy(), hf_params[name].grad.numpy()) <= 1e-5, name
    figure(f"gpt2 vs transformers {transformers.__version__}: logits max|Δ| {(ours - theirs).abs().max().item():.2e}")
