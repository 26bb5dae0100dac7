"""ttckpt.format and ttckpt.data (numpy only) against the Swift tool: Swift writer → Python
reader, Python writer → Swift reader, bit for bit, with the generator state and data cursor;
the batch sampler against tt-ckpt's draws; bad files raise FormatError only."""
import hashlib
import os
import random
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from safetensors.numpy import load_file

import ttckpt
from ttckpt import data as ttdata
from ttckpt import format as ttf
from conftest import REPO, assert_trouble, run, run_json

FIXTURES = ["init", "trained", "resumed", "gpt", "gpt_opts"]
SAMPLES = sorted(p.name for p in (REPO / "samples").glob("*.ttc"))
COMPAT = sorted(p.name for p in (REPO / "Tests" / "Fixtures" / "compat" / "format-1.0").glob("*.ttc"))


def bits(a):
    return np.asarray(a, np.float32).view(np.uint32)


def words_crc(words):
    return zlib.crc32(np.asarray(words, "<u4").tobytes())


def inspect(path):
    return run_json("inspect", path, "--json")


def exported(path, tmp_path):
    out = tmp_path / (path.name + ".safetensors")
    run("export", path, out, "--include-optimizer")
    return load_file(str(out))


def assert_matches_inspect(ckpt, info):
    """Every metadata field of a Checkpoint equals what `tt-ckpt inspect --json` reports."""
    c, t, o = ckpt.config, ckpt.training, ckpt.training.optimizer
    assert info["config"] == {"arch": c.arch, "vocab_size": c.vocab_size, "d_model": c.d_model,
                              "n_heads": c.n_heads, "d_ff": c.d_ff, "n_layers": c.n_layers, "context": c.context}
    assert info["vocab"]["kind"] == ckpt.vocab.kind and info["vocab"]["tokens"] == ckpt.vocab.tokens
    tr = info["training"]
    assert (tr["step"], tr["tokens_seen"], tr["seed"], tr["batch_size"], tr["windows_drawn"]) == \
        (t.step, t.tokens_seen, t.seed, t.batch_size, t.windows_drawn)
    assert tr["optimizer"] == {"learning_rate": o.lr, "beta1": o.beta1, "beta2": o.beta2, "epsilon": o.epsilon,
                               "weight_decay": o.weight_decay, "exempt_norm_and_bias": o.exempt_norm_and_bias,
                               "grad_clip": o.grad_clip, "schedule": o.schedule, "warmup_steps": o.warmup_steps,
                               "decay_steps": o.decay_steps, "min_lr_ratio": o.min_lr_ratio}
    if t.data is None:
        assert tr.get("data") is None
    else:
        assert tr["data"] == {"name": t.data.name, "byte_count": t.data.byte_count,
                              "token_count": t.data.token_count, "sha256": t.data.sha256}
    assert tr["rng"] == {"index": t.rng.index, "gauss_next": t.rng.gauss_next, "words_crc32": words_crc(t.rng.words)}
    assert tr["session_starts"] == t.session_starts
    # inspect prints each float32 loss as its shortest round-trip decimal (null for NaN/∞).
    losses = np.array([np.nan if x is None else x for x in tr["loss_history"]], np.float64).astype(np.float32)
    finite = np.isfinite(t.loss_history)
    assert np.array_equal(bits(losses)[finite], bits(t.loss_history)[finite])


def resolve(checkpoints, which):
    return REPO / "samples" / which if which.endswith(".ttc") else checkpoints[which]


# --- Swift writer → Python reader ----------------------------------------------------------

@pytest.mark.parametrize("which", FIXTURES + SAMPLES)
def test_reads_swift_files_bit_for_bit(checkpoints, tmp_path, which):
    path = resolve(checkpoints, which)
    ckpt = ttckpt.read(path)
    assert_matches_inspect(ckpt, inspect(path))
    st = exported(path, tmp_path)
    assert [t.name for t in ckpt.tensors] == [t["name"] for t in inspect(path)["tensors"]]
    assert set(st) == {t.name for t in ckpt.tensors}
    for t in ckpt.tensors:
        assert t.values.dtype == np.float32 and t.shape == st[t.name].shape
        assert np.array_equal(bits(t.values), bits(st[t.name])), t.name


@pytest.mark.parametrize("which", FIXTURES)
@pytest.mark.parametrize("compression", ["fast", "none"])
def test_python_writer_reproduces_swift_bytes(checkpoints, which, compression, tmp_path):
    """A file tt-ckpt trained and wrote (its default byte-plane encoding, and the stored
    `--compression none`), written back by Python: the same bytes, a strong check that the
    writer encodes every field and every blob as the spec says."""
    path = tmp_path / f"{compression}.ttc"
    data = {"gpt": ["--data", checkpoints["corpus"]], "gpt_opts": ["--data", checkpoints["words"]]}.get(which, [])
    run("train", checkpoints[which], *data, "--steps", 1, "-o", path, "--compression", compression, "--quiet")
    assert ttckpt.encode(ttckpt.read(path), compression=compression) == path.read_bytes()
    if compression == "fast":
        assert ttckpt.encode(ttckpt.read(path)) == path.read_bytes()   # the default


def crafted(shape, pattern, rng):
    """Values whose byte planes take every path of the byte-plane encoder (§8): runs of
    zeros and of other bytes (matches of 258 and shorter ones, code-length runs), dense
    normal floats (sampled planes stored), few distinct values (literals and runs), and
    bytes geometrically distributed (codes deeper than 15 bits, so length-limited)."""
    n = int(np.prod(shape))
    if pattern == 0:
        v = np.zeros(n, np.float32)
    elif pattern == 1:
        v = rng.normal(0, 0.02, n).astype(np.float32)
    elif pattern == 2:
        v = rng.integers(0, 4, n).astype(np.float32)
    elif pattern == 3:
        # Each byte position holds bytes 1, 2, ... with Fibonacci counts (1, 1, 2, 3, 5, ...;
        # the rest byte 0) in random order: a Huffman tree as deep as it gets, so codes past
        # 15 bits (and 7 for the code-length code) once a plane holds 2583 bytes or more.
        # As floats: finite, tiny or subnormal.
        counts = [1, 1]
        while sum(counts) + counts[-1] + counts[-2] <= n:
            counts.append(counts[-1] + counts[-2])
        plane = np.repeat(np.arange(len(counts) + 1, dtype=np.uint8), [n - sum(counts)] + counts)
        v = np.stack([rng.permutation(plane) for _ in range(4)], axis=1).reshape(-1).view(np.float32)
    elif pattern == 4:
        v = np.repeat(rng.choice(np.float32([0, 1, -2.5, 0.1]), n), rng.integers(1, 600, n))[:n]
    else:
        v = np.full(n, 1.0, np.float32)
        v[rng.random(n) < 0.01] = rng.normal(0, 1, n)[:1] if n else 0
    return v.reshape(shape)


@pytest.mark.parametrize("seed", [0, 1])
def test_python_writer_reproduces_the_byte_plane_encoder_on_crafted_values(tool, tmp_path, seed):
    """Tensors crafted to take every path of tt-ckpt's default encoder (the filter chosen
    exactly and by sample, planes stored, literals, runs, sampled and stored unseen,
    length-limited codes), imported by tt-ckpt and written back by Python: the same bytes."""
    from safetensors import safe_open
    from safetensors.numpy import save_file
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 40)
    model, exported_path, edited_path, imported = (tmp_path / n for n in ("m.ttc", "m.safetensors", "e.safetensors", "i.ttc"))
    # ffn.w1 and w2 hold 65 536 elements: the filter and (planes over 32 KiB) the planes sampled.
    run("init", model, "--arch", "gpt", "--tokenizer", "char", "--data", corpus, "--d-model", 64, "--heads", 2,
        "--d-ff", 1024, "--layers", 1, "--context", 16)
    run("export", model, exported_path)
    with safe_open(str(exported_path), "numpy") as f:
        metadata = f.metadata()
    rng = np.random.default_rng(seed)
    big = {"layers.0.ffn.w1": 3 - 2 * seed, "layers.0.ffn.w2": 1 + 2 * seed}   # dense, and deepest codes
    tensors = {name: crafted(a.shape, big.get(name, (i + seed) % 6), rng)
               for i, (name, a) in enumerate(sorted(load_file(str(exported_path)).items()))}
    save_file(tensors, str(edited_path), metadata=metadata)
    run("import", edited_path, imported)
    ckpt = ttckpt.read(imported)
    assert all(np.array_equal(bits(ckpt.tensor(name)), bits(v)) for name, v in tensors.items())
    assert ttckpt.encode(ckpt) == imported.read_bytes()


@pytest.mark.parametrize("which", SAMPLES)
def test_python_writer_reproduces_the_golden_samples(which):
    # samples/ as tt-ckpt's default writer wrote them (the byte-plane encoder).
    path = REPO / "samples" / which
    assert ttckpt.encode(ttckpt.read(path)) == path.read_bytes()


@pytest.mark.parametrize("which", SAMPLES)
def test_python_writer_reproduces_the_zlib_written_samples(which):
    # Format 1.1 as tt-ckpt's zlib encoding wrote it (level 1, Z_RLE, hash section): the
    # samples until the byte-plane encoder, kept as compatibility fixtures.
    path = REPO / "Tests" / "Fixtures" / "compat" / "format-1.1-zlib" / which
    assert ttckpt.encode(ttckpt.read(path), compression="zlib") == path.read_bytes()


@pytest.mark.parametrize("which", SAMPLES)
def test_golden_samples_hold_what_the_zlib_written_ones_hold(which):
    # samples/ (the byte-plane encoder) and the zlib-written fixtures: other bytes, the same
    # checkpoint, so Python's re-encoding of either gives the same file.
    new = ttckpt.read(REPO / "samples" / which)
    old = ttckpt.read(REPO / "Tests" / "Fixtures" / "compat" / "format-1.1-zlib" / which)
    assert (REPO / "samples" / which).read_bytes() != (REPO / "Tests" / "Fixtures" / "compat" / "format-1.1-zlib" / which).read_bytes()
    assert ttckpt.encode(new) == ttckpt.encode(old)


@pytest.mark.parametrize("which", COMPAT)
def test_python_writer_reproduces_format_1_0_fixtures(which):
    # The 1.0 files samples/ replaced: zlib's default strategy at level 1, minor 0, no hash section.
    path = REPO / "Tests" / "Fixtures" / "compat" / "format-1.0" / which
    ckpt = ttckpt.read(path)
    assert ckpt.format_version == (1, 0)
    assert ttckpt.encode(ckpt, compression="zlib", strategy=zlib.Z_DEFAULT_STRATEGY, version=(1, 0)) == path.read_bytes()


def test_every_filter_and_both_roles_of_moments_are_covered(checkpoints):
    seen = set()
    for which in FIXTURES:
        with ttckpt.TTCFile(checkpoints[which]) as f:
            seen |= {(e.role, e.filter) for e in f.entries}
    assert {"none", "shuffle"} <= {f for _, f in seen}
    assert {"parameter", "adam_m", "adam_v"} == {r for r, _ in seen}


# --- Python writer → Swift reader ----------------------------------------------------------

SPECIAL_F32 = np.array([0x7FC00001, 0xFFC12345, 0x80000000, 0x00000001, 0x7F800000, 0xFF800000, 0x3F800000],
                       np.uint32).view(np.float32)  # NaN payloads, -0, subnormal, ±inf, 1
SPECIAL_FINITE_F32 = SPECIAL_F32[np.isfinite(SPECIAL_F32)]  # -0, subnormal, 1


def edited(ckpt, rng_seed):
    """The checkpoint with every kind of field changed to values tt-ckpt never wrote itself."""
    r = random.Random(rng_seed)
    r.gauss(0, 1)  # leaves a cached second Gaussian: gauss_next is written
    for _ in range(r.randrange(1000)):
        r.random()
    t = ckpt.training
    rs = np.random.default_rng(rng_seed)
    tensors = []
    for x in ckpt.tensors:
        v = rs.standard_normal(x.shape).astype(np.float32) * np.float32(0.05)
        # NaN and ±∞ only where tt-ckpt still carries them: it refuses a model whose
        # parameters are not finite (a diverged run), but moments pass through export.
        special = SPECIAL_FINITE_F32 if x.role == "parameter" else SPECIAL_F32
        k = min(v.size, len(special))
        v.reshape(-1)[:k] = special[:k]
        tensors.append(ttckpt.Tensor(x.name, x.role, v))
    tensors.append(ttckpt.Tensor("notes.extra", "other", np.arange(12, dtype=np.float32).reshape(3, 4)))
    tensors.append(ttckpt.Tensor("scalar", "other", np.array(2.5, np.float32)))
    step = t.step + 3
    loss = np.concatenate([t.loss_history, SPECIAL_F32[:3]]).astype(np.float32)
    training = ttckpt.TrainingState(
        rng=ttckpt.GeneratorState.from_random(r), step=step, tokens_seen=t.tokens_seen + 17, seed=2 ** 64 - 1,
        batch_size=3, optimizer=ttf.OptimizerSettings(lr=0.25, beta1=0.5, beta2=0.75, epsilon=1e-6,
                                                      weight_decay=3.5, exempt_norm_and_bias=True, grad_clip=2.0,
                                                      schedule="cosine", warmup_steps=5, decay_steps=2 ** 40,
                                                      min_lr_ratio=0.0),
        data=ttckpt.DataIdentity("naïve \u202e name.txt", 2 ** 40, 12345, hashlib.sha256(b"x").hexdigest()),
        windows_drawn=2 ** 64 - 1, loss_history=loss, session_starts=[0, 0, t.step, step])
    return ckpt.replace(training=training, tensors=tensors, tool_version=ttf.PYTHON_TOOL_VERSION)


@pytest.mark.parametrize("which", ["trained", "gpt_opts"])
@pytest.mark.parametrize("filt, options", [(None, {}), ("none", {}), ("shuffle", {}),
                                           (None, {"compression": "zlib", "level": 6})],
                         ids=["fast", "fast-none", "fast-shuffle", "zlib-6"])
def test_swift_reads_python_files_bit_for_bit(checkpoints, tmp_path, which, filt, options):
    ckpt = edited(ttckpt.read(checkpoints[which]), 99)
    out = tmp_path / "py.ttc"
    ttckpt.write(ckpt, out, filter=filt, **options)
    # The moments deliberately hold NaN and Inf (their bit patterns must survive), so --verify
    # passes every structural check (no CRC or length problem) and exits 1 for the value scan.
    verify = run("inspect", out, "--verify", check=False)
    assert verify.status in (0, 1) and verify.stderr == "", verify.stderr
    assert "CRC" not in verify.stdout and "mismatch" not in verify.stdout
    assert "verify:" in verify.stdout
    info = inspect(out)
    assert info["tool_version"] == ttf.PYTHON_TOOL_VERSION
    assert_matches_inspect(ckpt, info)
    assert info["training"]["rng"]["gauss_next"] is not None
    for entry in info["tensors"]:
        if filt is not None:
            assert entry["filter"] == filt
    st = exported(out, tmp_path)
    for t in ckpt.tensors:
        if t.role == "other":
            continue  # export leaves out role `other`; inspect --tensor reads them below
        assert np.array_equal(bits(st[t.name]), bits(t.values)), t.name
    doc = run_json("inspect", out, "--tensor", "notes.extra", "--json")
    assert doc["shape"] == [3, 4] and doc["values"] == np.arange(12).reshape(3, 4).tolist()
    # And back into Python: the same values, the same bytes again.
    again = ttckpt.read(out)
    assert ttckpt.encode(again, filter=filt, **options) == out.read_bytes()


def test_python_written_file_resumes_like_the_swift_file(checkpoints, tmp_path):
    """The Python writer keeps everything `resume` needs: the generator, the data cursor,
    the optimizer state. Re-encoded differently (level 9, forced shuffle) and resumed, it
    gives the same bytes as resuming tt-ckpt's own file."""
    src = checkpoints["gpt_opts"]
    copy = tmp_path / "copy.ttc"
    ttckpt.write(ttckpt.read(src), copy, compression="zlib", level=9, filter="shuffle")
    assert copy.read_bytes() != src.read_bytes()
    a, b = tmp_path / "a.ttc", tmp_path / "b.ttc"
    run("resume", src, "--data", checkpoints["words"], "--steps", 4, "-o", a, "--quiet")
    run("resume", copy, "--data", checkpoints["words"], "--steps", 4, "-o", b, "--quiet")
    assert a.read_bytes() == b.read_bytes()


def test_writer_refuses_invalid_checkpoints_and_writes_nothing(checkpoints, tmp_path):
    good = ttckpt.read(checkpoints["gpt_opts"])
    target = tmp_path / "keep.ttc"
    target.write_bytes(b"old contents")
    t = good.training
    cases = [
        (good.replace(tensors=good.tensors[1:]), "'tok_emb': missing"),
        (good.replace(tensors=good.tensors + [good.tensors[0]]), "appears twice"),
        (good.replace(tensors=[ttckpt.Tensor(x.name, x.role, x.values.astype(np.float64)) if i == 2 else x
                               for i, x in enumerate(good.tensors)]), "float32"),
        (good.replace(tensors=[ttckpt.Tensor(x.name, x.role, x.values.T.copy()) if x.name == "pos_emb" else x
                               for x in good.tensors]), "'pos_emb': shape [16, 8], expected [8, 16]"),
        (good.replace(tensors=good.tensors + [ttckpt.Tensor("adam_m.x", "other", np.zeros(1, np.float32))]),
         "moment prefix"),
        (good.replace(training=ttckpt.TrainingState(**{**t.__dict__, "step": t.step + 1})), "train.loss_history"),
        (good.replace(training=ttckpt.TrainingState(**{**t.__dict__, "session_starts": [t.step + 1]})),
         "train.session_starts"),
        (good.replace(training=ttckpt.TrainingState(**{**t.__dict__, "rng": ttckpt.GeneratorState((0,) * 624, 0)})),
         "all words are zero"),
        (good.replace(training=ttckpt.TrainingState(**{**t.__dict__, "rng": ttckpt.GeneratorState((1,) * 623, 0)})),
         "623 words"),
        (good.replace(training=ttckpt.TrainingState(**{**t.__dict__, "batch_size": 0})), "train.batch_size"),
        (good.replace(training=ttckpt.TrainingState(**{**t.__dict__, "seed": -1})), "train.seed"),
        (good.replace(config=ttckpt.ModelConfig(**{**good.config.__dict__, "n_heads": 3})), "model.n_heads"),
        (good.replace(config=ttckpt.ModelConfig(**{**good.config.__dict__, "arch": "rnn"})), "model.arch"),
        (good.replace(config=ttckpt.ModelConfig(**{**good.config.__dict__, "arch": "gpt2"})),
         "'layers.0.attn.wq': role parameter but not a tensor of this config"),
        (good.replace(vocab=ttckpt.Vocabulary("word", good.vocab.tokens[:-1])), "vocab.tokens"),
    ]
    for bad, fragment in cases:
        with pytest.raises(ttckpt.FormatError) as e:
            ttckpt.write(bad, target)
        assert e.value.kind == "invalidCheckpoint" and fragment in str(e.value), (fragment, str(e.value))
        assert str(e.value).startswith(str(target) + ": cannot write: ")
        assert target.read_bytes() == b"old contents"
    assert sorted(os.listdir(tmp_path)) == ["keep.ttc"]  # no temporary file left


def test_writer_file_system_rules(checkpoints, tmp_path):
    ckpt = ttckpt.read(checkpoints["init"])
    with pytest.raises(ttckpt.FormatError, match="is a directory") as e:
        ttckpt.write(ckpt, tmp_path)
    assert e.value.kind == "writeFailed"
    ro = tmp_path / "ro.ttc"
    ro.write_bytes(b"x")
    ro.chmod(0o444)
    with pytest.raises(ttckpt.FormatError, match="read-only"):
        ttckpt.write(ckpt, ro)
    assert ro.read_bytes() == b"x"
    with pytest.raises(ttckpt.FormatError, match="save failed") as e:
        ttckpt.write(ckpt, tmp_path / "missing" / "x.ttc")
    assert e.value.kind == "writeFailed"
    ok = tmp_path / "ok.ttc"
    ttckpt.write(ckpt, ok)
    assert ok.read_bytes() == checkpoints["init"].read_bytes()
    assert oct(ok.stat().st_mode & 0o777) == oct(0o644 & ~_umask())


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


# --- The generator and the data cursor ------------------------------------------------------

def test_generator_state_is_cpythons(checkpoints):
    """init draws the tutorial's weights as random.gauss(0, 0.1) per element in layout order
    from random.Random(42) and stores the generator after the draws: CPython's own Random
    reproduces the weights and the stored state, including the cached second Gaussian."""
    ckpt = ttckpt.read(checkpoints["init"])
    r = random.Random(ckpt.training.seed)
    for name, shape in ckpt.config.canonical_tensors():
        values = ckpt.tensor(name)
        if name.endswith((".gamma", ".beta")):
            continue
        drawn = np.array([r.gauss(0, 0.1) for _ in range(int(np.prod(shape)))], np.float64).astype(np.float32)
        assert np.array_equal(bits(values.reshape(-1)), bits(drawn)), name
    assert ttckpt.GeneratorState.from_random(r) == ckpt.training.rng
    assert ckpt.training.rng.to_random().getstate() == r.getstate()


def test_sampler_draws_what_tt_ckpt_draws(checkpoints, tmp_path):
    """Python's sampler, from the generator stored at step 6, draws 5 batches of B = 4 random
    windows; `tt-ckpt resume --steps 5` must end with the same generator state (every
    randrange draw, rejection sampling included) and the same data cursor."""
    src = checkpoints["gpt_opts"]
    ckpt = ttckpt.read(src)
    data = ttdata.resolve_data(ckpt, str(checkpoints["words"]), str(src))
    assert data.identity == ckpt.training.data  # tokenizer and identity agree with tt-ckpt's
    sampler = ttckpt.BatchSampler(data.tokens, ckpt.config.context, ckpt.training.batch_size, ckpt.vocab.pad_id)
    assert not sampler.uses_whole_stream
    rng = ckpt.training.rng.to_random()
    batches = [sampler.next_batch(rng) for _ in range(5)]
    out = tmp_path / "r.ttc"
    run("resume", src, "--data", checkpoints["words"], "--steps", 5, "-o", out, "--quiet")
    after = ttckpt.read(out)
    assert ttckpt.GeneratorState.from_random(rng) == after.training.rng
    assert after.training.windows_drawn == ckpt.training.windows_drawn + 5 * 4
    # tokens_seen counts non-PAD targets: this corpus has no <PAD>, so all B·T count.
    assert after.training.tokens_seen - ckpt.training.tokens_seen == sum(b.target_count for b in batches) == 5 * 4 * 8
    for b in batches:
        assert b.tokens.shape == b.targets.shape == (4, 8)
        assert np.array_equal(b.tokens[:, 1:], b.targets[:, :-1])


def test_tutorial_batches_are_the_padded_stream(checkpoints):
    ckpt = ttckpt.read(checkpoints["trained"])
    data = ttdata.resolve_data(ckpt, None, "trained.ttc")
    assert data.identity == ckpt.training.data
    sampler = ttckpt.BatchSampler(data.tokens, ckpt.config.context, 2, ckpt.vocab.pad_id)
    rng = ckpt.training.rng.to_random()
    before = rng.getstate()
    b = sampler.next_batch(rng)
    assert rng.getstate() == before  # nothing drawn
    assert b.tokens.tolist() == [[1, 3, 4, 5, 2]] * 2 and b.targets.tolist() == [[3, 4, 5, 2, -1]] * 2
    assert b.target_count == 8


@pytest.mark.parametrize("kind", ["word", "char", "byte"])
def test_tokenizers_agree_with_tt_ckpt(checkpoints, tmp_path, kind):
    corpus = tmp_path / "c.txt"
    corpus.write_bytes(ttdata_corpus_bytes())
    out = tmp_path / f"{kind}.ttc"
    run("init", out, "--arch", "gpt", "--tokenizer", kind, "--data", corpus, "--d-model", 8, "--heads", 2,
        "--d-ff", 8, "--layers", 1, "--context", 4)
    ckpt = ttckpt.read(out)
    data = ttckpt.load_corpus(corpus, ckpt.vocab)
    assert data.identity == ckpt.training.data  # byte count, token count, SHA-256
    if kind == "word":
        # U+001F is not White_Space: "un\x1fit" is one word, as tt-ckpt decides.
        assert "un\x1fit" in ckpt.vocab.tokens


def ttdata_corpus_bytes():
    from conftest import WORDS_TEXT
    return (WORDS_TEXT + "é e\u0301 \u2028 ünïcode\u00a0x").encode()


def test_data_errors_are_one_line_like_tt_ckpt(checkpoints, tmp_path):
    ckpt = ttckpt.read(checkpoints["gpt_opts"])
    other = tmp_path / "other.txt"
    other.write_text("the cat sat on the mat .")
    with pytest.raises(ttckpt.DataError, match=r"is not the data g\.ttc was trained on \(recorded: words\.txt"):
        ttdata.resolve_data(ckpt, str(other), "g.ttc")
    unknown = tmp_path / "u.txt"
    unknown.write_text("the zebra\tand yak x1 x2 x3 x4")
    with pytest.raises(ttckpt.DataError) as e:
        ttdata.resolve_data(ckpt, str(unknown), "g.ttc")
    assert str(e.value) == f'{unknown}: 6 symbols not in the checkpoint\'s vocabulary: "zebra", "yak", "x1", "x2", ' \
                           f'"x3" and 1 more'
    # tt-ckpt says the same about the same file.
    assert_trouble(run("resume", checkpoints["gpt_opts"], "--data", unknown, "--steps", 1, "-o", tmp_path / "o.ttc",
                       check=False), str(e.value))
    with pytest.raises(ttckpt.DataError, match="required: g.ttc was trained on words.txt"):
        ttdata.resolve_data(ckpt, None, "g.ttc")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"the \xff cat")
    with pytest.raises(ttckpt.DataError, match=r"not valid UTF-8 \(bad byte at offset 4\)"):
        ttdata.resolve_data(ckpt, str(bad), "g.ttc")


# --- Bad input: one exception class, naming the file and the field ---------------------------

def load_everything(path=None, data=None):
    with ttckpt.TTCFile(path, data) as f:
        f.checkpoint()


def test_every_truncation_raises_format_error(checkpoints, tmp_path):
    data = checkpoints["gpt_opts"].read_bytes()
    with ttckpt.TTCFile(checkpoints["gpt_opts"]) as f:
        header_end = 32 + f.header_length
    lengths = list(range(0, header_end + 64)) + list(range(header_end + 64, len(data), 97))
    kinds = set()
    for n in lengths:
        with pytest.raises(ttckpt.FormatError) as e:
            load_everything("t.ttc", data[:n])
        assert str(e.value).startswith("t.ttc: ")
        kinds.add(e.value.kind)
    # Every prefix of the magic matches the magic (§1 compares only the bytes present).
    assert {"truncated", "headerOutOfFile", "blobOutOfFile"} <= kinds and "notTTC" not in kinds, kinds
    # On disk too: the path is named.
    short = tmp_path / "short.ttc"
    short.write_bytes(data[:-1])
    with pytest.raises(ttckpt.FormatError, match=f"^{short}: tensor 'adam_v.lm_head'"):
        ttckpt.read(short)


def fix_crcs(buf):
    """Recomputes the header and preamble CRCs, so a header edit reaches the deeper checks."""
    (header_length,) = struct.unpack_from("<Q", buf, 16)
    if 32 + header_length <= len(buf):
        struct.pack_into("<I", buf, 24, zlib.crc32(bytes(buf[32:32 + header_length])))
    struct.pack_into("<I", buf, 28, zlib.crc32(bytes(buf[:28])))


def test_mutated_files_raise_format_error_or_read_validly(checkpoints):
    """About 3000 mutations of a gpt checkpoint (byte flips, random bytes, length fields set to
    extremes, with the CRCs recomputed so they reach the structure and value checks): every
    one either reads (a changed but valid value) or raises FormatError, never another
    exception, and a file that reads passes the writer's validation too."""
    data = checkpoints["gpt_opts"].read_bytes()
    with ttckpt.TTCFile(checkpoints["gpt_opts"]) as f:
        header_end = 32 + f.header_length
    rs = random.Random(2024)
    kinds, valid = {}, 0
    for i in range(3000):
        buf = bytearray(data)
        how = i % 4
        if how == 0:
            buf[rs.randrange(8, header_end)] ^= 1 << rs.randrange(8)
        elif how == 1:
            for _ in range(rs.randrange(1, 4)):
                buf[rs.randrange(8, header_end)] = rs.randrange(256)
        elif how == 2:
            pos = rs.randrange(32, header_end - 8)
            buf[pos:pos + 8] = struct.pack("<Q", rs.choice([0, 1, 2 ** 32 - 1, 2 ** 63, 2 ** 64 - 1, 624, 625]))
        else:
            buf[rs.randrange(header_end, len(buf))] ^= 0xFF
        if rs.random() < 0.9:
            fix_crcs(buf)
        try:
            load_everything("m.ttc", bytes(buf))
            valid += 1
        except ttckpt.FormatError as e:
            assert str(e).startswith("m.ttc: ") and "\n" not in str(e)
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
    print(f"mutations: {valid} valid, errors by kind: {kinds}")
    assert len(kinds) >= 12, kinds
    assert valid < 3000


@pytest.mark.parametrize("edit, kind, fragment", [
    (lambda m: m.__setitem__("train.step", ("u64", 2 ** 63)), "invalidValue", "'train.step'"),
    (lambda m: m.__setitem__("model.d_model", ("string", "16")), "wrongType", "'model.d_model': type string, expected u64"),
    (lambda m: m.pop("rng.words"), "missingKey", "'rng.words'"),
    (lambda m: m.pop("data.sha256"), "missingKey", "'data.sha256'"),
    (lambda m: m.__setitem__("rng.index", ("u64", 625)), "invalidValue", "'rng.index'"),
    (lambda m: m.__setitem__("rng.gauss_next", ("f64", float("nan"))), "invalidValue", "'rng.gauss_next'"),
    (lambda m: m.__setitem__("optim.lr", ("f64", float("inf"))), "invalidValue", "'optim.lr'"),
    (lambda m: m.__setitem__("train.loss_history", ("array<f64>", np.zeros(6))), "wrongType", "'train.loss_history'"),
    (lambda m: m.__setitem__("data.sha256", ("string", "A" * 64)), "invalidValue", "'data.sha256'"),
    (lambda m: m.__setitem__("zz.future_key", ("array<bool>", [True, False])), None, None),
])
def test_metadata_value_errors_name_the_key(checkpoints, edit, kind, fragment):
    """Re-encode the header with one metadata item changed (every CRC correct), so only the
    value check can catch it."""
    src = checkpoints["gpt_opts"]
    with ttckpt.TTCFile(src) as f:
        items = dict(f.metadata)
        data = src.read_bytes()
        entries = f.entries
        header_length = f.header_length
    edit(items)
    meta = ttf._encode_metadata(items, lambda m: pytest.fail(m))
    (tdir_len,) = struct.unpack_from("<Q", data, 32 + 12 + struct.unpack_from("<Q", data, 36)[0] + 4)
    tdir_start = 32 + 12 + struct.unpack_from("<Q", data, 36)[0] + 12
    tdir = bytearray(data[tdir_start:tdir_start + tdir_len])
    # Blob offsets move with the header length: shift every entry's offset.
    shift = len(meta) - struct.unpack_from("<Q", data, 36)[0]
    pos = 8
    for e in entries:
        pos += 4 + len(e.name.encode()) + 5 + 8 * len(e.shape)
        struct.pack_into("<Q", tdir, pos, e.offset + shift)
        pos += 32
    header = struct.pack("<IQ", ttf.TAG_META, len(meta)) + meta + struct.pack("<IQ", ttf.TAG_TDIR, len(tdir)) + bytes(tdir)
    header += data[tdir_start + tdir_len:32 + header_length]  # the sections after TDIR (hash), unchanged
    buf = bytearray(data[:32] + header + data[32 + header_length:])
    struct.pack_into("<Q", buf, 16, len(header))
    fix_crcs(buf)
    if kind is None:
        load_everything("k.ttc", bytes(buf))  # unknown keys of a newer minor are ignored
        return
    with pytest.raises(ttckpt.FormatError) as e:
        load_everything("k.ttc", bytes(buf))
    assert e.value.kind == kind and fragment in str(e.value), str(e.value)


def test_open_errors(tmp_path):
    with pytest.raises(ttckpt.FormatError, match="cannot open") as e:
        ttckpt.read(tmp_path / "missing.ttc")
    assert e.value.kind == "io"
    with pytest.raises(ttckpt.FormatError, match="is a directory"):
        ttckpt.read(tmp_path)
    fifo = tmp_path / "fifo.ttc"
    os.mkfifo(fifo)
    with pytest.raises(ttckpt.FormatError, match="is not a regular file"):
        ttckpt.read(fifo)  # refused without blocking on the open


# --- Command line ---------------------------------------------------------------------------

def test_command_lines(checkpoints, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO / "python")}
    for argv in ([sys.executable, "-m", "ttckpt"], [sys.executable, str(REPO / "python" / "ttc.py")]):
        out = subprocess.run(argv + [str(checkpoints["gpt_opts"])], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        assert "all CRCs ok" in out.stdout and "ln_f.gamma" in out.stdout
        bad = tmp_path / "bad.ttc"
        bad.write_bytes(checkpoints["gpt_opts"].read_bytes()[:100])
        out = subprocess.run(argv + [str(bad)], capture_output=True, text=True, env=env)
        assert out.returncode == 2 and out.stdout == ""
        assert out.stderr.count("\n") == 1 and f"{bad}: header length" in out.stderr
