"""safetensors export/import against the real `safetensors` and `numpy` packages."""
import json
import struct

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from conftest import assert_trouble, run, run_json

TUTORIAL_SHAPES = {  # V 6, D 16, H 2, F 64, L 1, T 5 (README "The model")
    "tok_emb": (6, 16), "pos_emb": (5, 16),
    "layers.0.attn.wq": (2, 16, 8), "layers.0.attn.wk": (2, 16, 8), "layers.0.attn.wv": (2, 16, 8),
    "layers.0.attn.wo": (16, 16),
    "layers.0.ffn.w1": (64, 16), "layers.0.ffn.b1": (64,), "layers.0.ffn.w2": (16, 64), "layers.0.ffn.b2": (16,),
    "layers.0.ln.gamma": (16,), "layers.0.ln.beta": (16,),
    "lm_head": (6, 16),
}
TUTORIAL_VOCAB = ["<PAD>", "<BOS>", "<EOS>", "I", "like", "transformers"]


def inspect_tensor(ckpt, name):
    """A tensor as `tt-ckpt inspect --tensor NAME --json` prints it, as float32.

    inspect prints the shortest decimal that reads back as the same float32; reading it as a
    double and rounding to float32 gives that float32 back (a double has more than 2·24+2 bits,
    so the double rounding cannot change the result)."""
    doc = run_json("inspect", ckpt, "--tensor", name, "--json")
    assert doc["name"] == name
    values = np.array(doc["values"], dtype=np.float64).astype(np.float32)
    assert list(values.shape) == doc["shape"], (name, values.shape, doc["shape"])
    return values


def tensor_names(ckpt):
    return [t["name"] for t in run_json("inspect", ckpt, "--json")["tensors"]]


def test_export_loads_and_every_tensor_equals_inspect(checkpoints, tmp_path):
    ckpt = checkpoints["resumed"]
    out = tmp_path / "model.safetensors"
    run("export", ckpt, out, "--include-optimizer")
    tensors = load_file(str(out))
    names = tensor_names(ckpt)
    assert sorted(tensors) == sorted(names)
    assert {n for n in names if not n.startswith("adam_")} == set(TUTORIAL_SHAPES)
    for name in names:
        expected = inspect_tensor(ckpt, name)
        got = tensors[name]
        assert got.dtype == np.float32
        assert got.shape == expected.shape, name
        # Bit-for-bit: export copies the stored float32 values.
        assert np.array_equal(got.view(np.uint32), expected.view(np.uint32)), name


def test_export_metadata_holds_config_vocabulary_and_step(checkpoints, tmp_path):
    ckpt = checkpoints["gpt"]
    out = tmp_path / "gpt.safetensors"
    run("export", ckpt, out)
    info = run_json("inspect", ckpt, "--json")
    with safe_open(str(out), framework="np") as f:
        meta = f.metadata()
        keys = set(f.keys())
    assert not any(k.startswith("adam_") for k in keys)  # no --include-optimizer
    for key, value in info["config"].items():
        assert meta[key] == str(value), key
    assert meta["tokenizer"] == info["vocab"]["kind"] == "char"
    assert json.loads(meta["vocabulary"]) == info["vocab"]["tokens"]
    assert meta["step"] == str(info["training"]["step"]) == "5"
    assert "ln_f.gamma" in keys


def test_export_header_layout(checkpoints, tmp_path):
    out = tmp_path / "m.safetensors"
    run("export", checkpoints["trained"], out)
    raw = out.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0  # header padded to 8-byte alignment, like the reference
    header = json.loads(raw[8:8 + n])
    offsets = sorted(v["data_offsets"] for k, v in header.items() if k != "__metadata__")
    assert offsets[0][0] == 0 and offsets[-1][1] == len(raw) - 8 - n
    assert all(a[1] == b[0] for a, b in zip(offsets, offsets[1:]))
    # Deterministic: exporting again gives the same bytes.
    again = tmp_path / "again.safetensors"
    run("export", checkpoints["trained"], again)
    assert again.read_bytes() == raw


def random_tutorial_tensors(rng, dtype=np.float32):
    return {name: rng.standard_normal(shape).astype(dtype) for name, shape in TUTORIAL_SHAPES.items()}


def test_import_file_written_by_python_save_file(checkpoints, tmp_path):
    rng = np.random.default_rng(2024)
    tensors = random_tutorial_tensors(rng)
    src = tmp_path / "from_python.safetensors"
    save_file(tensors, str(src))  # no metadata: config from shapes + flags
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(TUTORIAL_VOCAB) + "\n")
    ckpt = tmp_path / "imported.ttc"
    run("import", src, ckpt, "--arch", "tutorial", "--tokenizer", "word", "--vocab-file", vocab)
    info = run_json("inspect", ckpt, "--json")
    assert info["config"] == {"arch": "tutorial", "vocab_size": 6, "d_model": 16, "n_heads": 2,
                              "d_ff": 64, "n_layers": 1, "context": 5}
    assert info["vocab"]["tokens"] == TUTORIAL_VOCAB
    assert info["training"]["step"] == 0
    for name, values in tensors.items():
        assert np.array_equal(inspect_tensor(ckpt, name).view(np.uint32), values.view(np.uint32)), name
    # Moments were absent: zero.
    assert not inspect_tensor(ckpt, "adam_m.tok_emb").any()
    assert not inspect_tensor(ckpt, "adam_v.lm_head").any()
    # And back out again: the same values survive export.
    back = tmp_path / "back.safetensors"
    run("export", ckpt, back)
    reloaded = load_file(str(back))
    assert set(reloaded) == set(tensors)
    for name, values in tensors.items():
        assert np.array_equal(reloaded[name].view(np.uint32), values.view(np.uint32)), name


def test_import_half_precision_widens_exactly(tmp_path):
    rng = np.random.default_rng(7)
    tensors = random_tutorial_tensors(rng, np.float16)
    tensors["tok_emb"] = tensors["tok_emb"].astype(np.float64)  # F64 is rounded to float32
    src = tmp_path / "half.safetensors"
    save_file(tensors, str(src), metadata={"arch": "tutorial", "tokenizer": "word",
                                           "vocabulary": json.dumps(TUTORIAL_VOCAB)})
    ckpt = tmp_path / "half.ttc"
    run("import", src, ckpt)
    for name, values in tensors.items():
        # float16 → float32 is exact; float64 → float32 rounds to nearest, as numpy's astype.
        assert np.array_equal(inspect_tensor(ckpt, name), values.astype(np.float32)), name


def test_round_trip_with_optimizer_keeps_step_and_moments(checkpoints, tmp_path):
    src = checkpoints["trained"]
    st = tmp_path / "t.safetensors"
    run("export", src, st, "--include-optimizer")
    ckpt = tmp_path / "t.ttc"
    run("import", st, ckpt)
    a = run_json("inspect", src, "--json")
    b = run_json("inspect", ckpt, "--json")
    assert b["config"] == a["config"] and b["vocab"]["tokens"] == a["vocab"]["tokens"]
    assert b["training"]["step"] == a["training"]["step"] == 30
    assert [t["crc32"] for t in b["tensors"]] == [t["crc32"] for t in a["tensors"]]


def test_import_missing_tensor_is_named_and_nothing_written(tmp_path):
    tensors = random_tutorial_tensors(np.random.default_rng(1))
    del tensors["layers.0.ffn.w2"]
    src = tmp_path / "missing.safetensors"
    save_file(tensors, str(src), metadata={"arch": "tutorial", "tokenizer": "word",
                                           "vocabulary": json.dumps(TUTORIAL_VOCAB)})
    out = tmp_path / "never.ttc"
    assert_trouble(run("import", src, out, check=False), str(src), "'layers.0.ffn.w2' is missing")
    assert not out.exists()


def test_import_misshaped_tensor_is_named(tmp_path):
    tensors = random_tutorial_tensors(np.random.default_rng(1))
    tensors["pos_emb"] = np.zeros((16, 5), np.float32)
    src = tmp_path / "shape.safetensors"
    save_file(tensors, str(src), metadata={"arch": "tutorial", "context": "5", "tokenizer": "word",
                                           "vocabulary": json.dumps(TUTORIAL_VOCAB)})
    assert_trouble(run("import", src, tmp_path / "x.ttc", check=False),
                   "'pos_emb' has shape [16, 5], expected [5, 16]")


@pytest.mark.parametrize("mutate, fragment", [
    (lambda b: struct.pack("<Q", 200_000_000) + b[8:], "more than the limit 100000000"),
    (lambda b: b[:-4], "data buffer is"),
    (lambda b: b[:8] + b"[" + b[9:], "does not start with '{'"),
    (lambda b: b[:5], "shorter than the 8-byte header length"),
])
def test_import_hostile_files_fail_cleanly(checkpoints, tmp_path, mutate, fragment):
    good = tmp_path / "good.safetensors"
    run("export", checkpoints["init"], good)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(mutate(good.read_bytes()))
    out = tmp_path / "out.ttc"
    assert_trouble(run("import", bad, out, check=False), str(bad), fragment)
    assert not out.exists()


def test_output_that_is_the_input_is_refused(checkpoints, tmp_path):
    ckpt = tmp_path / "keep.ttc"
    ckpt.write_bytes(checkpoints["trained"].read_bytes())
    before = ckpt.read_bytes()
    assert_trouble(run("export", ckpt, ckpt, check=False), "refusing to overwrite")
    assert_trouble(run("plot", ckpt, "-o", ckpt, check=False), "refusing to overwrite")
    link = tmp_path / "link.ttc"
    link.symlink_to(ckpt)
    assert_trouble(run("export", ckpt, link, check=False), "refusing to overwrite")
    assert ckpt.read_bytes() == before


def test_import_byte_model_from_shapes(tmp_path):
    """A byte-level gpt written by numpy with no metadata: every config field comes from the
    shapes, the vocabulary from --tokenizer byte."""
    V, D, H, F, T = 256, 8, 2, 16, 4
    rng = np.random.default_rng(3)
    shapes = {"tok_emb": (V, D), "pos_emb": (T, D), "ln_f.gamma": (D,), "ln_f.beta": (D,), "lm_head": (V, D)}
    for i in range(2):
        p = f"layers.{i}."
        shapes.update({p + "ln1.gamma": (D,), p + "ln1.beta": (D,), p + "ln2.gamma": (D,), p + "ln2.beta": (D,),
                       p + "attn.wq": (H, D, D // H), p + "attn.wk": (H, D, D // H), p + "attn.wv": (H, D, D // H),
                       p + "attn.wo": (D, D), p + "ffn.w1": (F, D), p + "ffn.b1": (F,), p + "ffn.w2": (D, F),
                       p + "ffn.b2": (D,)})
    tensors = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    src = tmp_path / "byte.safetensors"
    save_file(tensors, str(src))
    out = tmp_path / "byte.ttc"
    run("import", src, out, "--tokenizer", "byte")
    info = run_json("inspect", out, "--json")
    assert info["config"] == {"arch": "gpt", "vocab_size": V, "d_model": D, "n_heads": H, "d_ff": F,
                              "n_layers": 2, "context": T}
    assert info["vocab"]["kind"] == "byte" and info["vocab"]["size"] == 256
    # An existing output is kept unless --force.
    assert_trouble(run("import", src, out, "--tokenizer", "byte", check=False), "already exists")
    run("import", src, out, "--tokenizer", "byte", "--force")
