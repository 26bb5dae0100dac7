"""`inspect` and `diff` on files written by the real packages: safetensors (numpy) single files
and sharded sets with an index, and GGUF from gguf's GGUFWriter. Values printed by
`inspect --tensor NAME --json` must equal what numpy / gguf read, bit for bit for the
unquantized types and equal to gguf's own dequantization (gguf.quants.dequantize) for Q8_0
and Q4_0. And a .ttc diffed against its own safetensors export reports every tensor equal.

Needs numpy, safetensors and gguf (small wheels, no torch)."""
import json
import struct

import numpy as np
import pytest
from safetensors.numpy import save_file

from conftest import assert_trouble, run

gguf = pytest.importorskip("gguf", reason="the gguf package is not installed (pip install gguf)")
from gguf import GGMLQuantizationType as T  # noqa: E402

RNG = np.random.default_rng(20261130)


def specials(dtype, n):
    """Signed zeros, NaN, ±Inf, extremes, subnormals, then random values."""
    info = np.finfo(dtype)
    s = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, info.max, -info.max, info.tiny, info.smallest_subnormal,
                  -info.smallest_subnormal, 1.0, -1.5], dtype=dtype)
    return np.concatenate([s, RNG.standard_normal(n - s.size).astype(dtype)])


def tensor_json(path, name):
    """`inspect PATH --tensor NAME --json`, numbers kept as their text (no double rounding)."""
    out = run("inspect", path, "--tensor", name, "--json").stdout
    return json.loads(out, parse_float=str, parse_int=int)


def flat(values):
    if isinstance(values, list):
        return [x for v in values for x in flat(v)]
    return [values]


def assert_float_bits(doc, expected, width):
    """Finite values: the printed decimal parsed at `width` bits has the expected bits.
    Non-finite: null in `values`, and listed in `non_finite` with its kind."""
    exp = np.ascontiguousarray(expected).ravel()
    got = flat(doc["values"])
    assert len(got) == exp.size
    assert list(doc["shape"]) == list(expected.shape)
    ftype, itype = (np.float32, np.uint32) if width == 32 else (np.float64, np.uint64)
    kinds = {i: k for i, k in doc.get("non_finite", [])}
    for i, (g, e) in enumerate(zip(got, exp.astype(ftype))):
        if np.isfinite(e):
            assert g is not None, (doc["name"], i)
            assert ftype(g).view(itype) == e.view(itype), (doc["name"], i, g, e)
        else:
            assert g is None, (doc["name"], i, g)
            want = "nan" if np.isnan(e) else ("inf" if e > 0 else "-inf")
            assert kinds[i] == want, (doc["name"], i)
    assert set(kinds) == {i for i, e in enumerate(exp.astype(ftype)) if not np.isfinite(e)}


@pytest.fixture(scope="module")
def safetensors_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("st")
    tensors = {
        "f32": specials(np.float32, 48).reshape(2, 3, 8),
        "f16": specials(np.float16, 40).reshape(5, 8),
        "f64": specials(np.float64, 24).reshape(4, 6),
        "i8": np.array([-128, -1, 0, 1, 127, 5], dtype=np.int8),
        "u8": np.array([0, 1, 127, 128, 255, 7], dtype=np.uint8).reshape(2, 3),
        "i16": np.array([-32768, -1, 0, 32767], dtype=np.int16),
        "u16": np.array([0, 65535, 40000], dtype=np.uint16),
        "i32": np.array([-2**31, -1, 0, 2**31 - 1, 16777217], dtype=np.int32),
        "u32": np.array([0, 2**32 - 1, 16777217], dtype=np.uint32),
        "i64": np.array([-2**63, -1, 0, 2**63 - 1, 2**53 + 1], dtype=np.int64),
        "u64": np.array([0, 2**64 - 1, 2**53 + 1], dtype=np.uint64),
        "bool": RNG.integers(0, 2, size=(3, 5)).astype(np.bool_),
        "scalar": np.array(3.25, dtype=np.float32),
        "model.layers.0.attn.weight": RNG.standard_normal((4, 4)).astype(np.float32),
    }
    path = d / "all.safetensors"
    save_file(tensors, str(path), metadata={"format": "np"})
    return path, tensors


def test_safetensors_values_equal_numpy_bit_for_bit(safetensors_file):
    path, tensors = safetensors_file
    for name, arr in tensors.items():
        doc = tensor_json(path, name)
        assert doc["name"] == name
        if arr.dtype.kind == "f":
            assert_float_bits(doc, arr, 64 if arr.dtype == np.float64 else 32)
        else:
            # Integers (and BOOL as 0/1) exactly, even beyond 2^53.
            assert flat(doc["values"]) == [int(x) for x in arr.ravel()], name
            assert doc["shape"] == list(arr.shape)


def test_safetensors_bf16_equals_its_bits(tmp_path):
    # numpy has no bfloat16: the header is written by hand around raw bits, which safetensors
    # reads back (its own deserialize is the reference for the layout).
    import safetensors
    bits = np.concatenate([np.array([0x0000, 0x8000, 0x7F80, 0xFF80, 0x3F80, 0xC040, 0x0001], dtype=np.uint16),
                           (RNG.standard_normal(9).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)])
    header = json.dumps({"b": {"dtype": "BF16", "shape": [4, 4], "data_offsets": [0, 32]}}, separators=(",", ":")).encode()
    header += b" " * ((8 - len(header) % 8) % 8)
    blob = struct.pack("<Q", len(header)) + header + bits.astype("<u2").tobytes()
    assert dict(safetensors.deserialize(blob))["b"]["dtype"] == "BF16"
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(blob)
    expected = (bits.astype(np.uint32) << 16).view(np.float32).reshape(4, 4)
    assert_float_bits(tensor_json(path, "b"), expected, 32)


def test_stats_and_verify_agree_with_numpy(safetensors_file, tmp_path):
    path, tensors = safetensors_file
    doc = json.loads(run("inspect", path, "--stats", "--json").stdout)
    by_name = {t["name"]: t for t in doc["tensors"]}
    for name in ["f32", "f16", "f64", "model.layers.0.attn.weight"]:
        arr = tensors[name].astype(np.float64).ravel()
        s = by_name[name]["stats"]
        finite = arr[np.isfinite(arr)]
        assert s["count"] == arr.size and s["nan_count"] == int(np.isnan(arr).sum())
        assert s["pos_inf_count"] == int(np.isposinf(arr).sum()) and s["neg_inf_count"] == int(np.isneginf(arr).sum())
        assert s["zero_count"] == int((arr == 0).sum())
        # min and max print as the tensor's own width (Float32 for F16/F32 values) exactly.
        width = np.float64 if tensors[name].dtype == np.float64 else np.float32
        assert width(s["min"]) == width(finite.min()) and width(s["max"]) == width(finite.max())
        if np.abs(finite).max() < 1e300:  # with ±DBL_MAX any summation order overflows differently
            # Blockwise Chan merge against numpy's pairwise sum: both in double, different
            # orders; 1e-12 relative is thousands of ulps, far below any wrong formula.
            assert abs(s["mean"] - finite.mean()) <= 1e-12 * max(abs(finite.mean()), finite.std())
            assert abs(s["std"] - finite.std()) <= 1e-12 * finite.std()
    # --verify: the file holds NaN/Inf (exit 1, no stderr line); a clean one exits 0.
    bad = run("inspect", path, "--verify", check=False)
    assert bad.status == 1 and bad.stderr == "" and "hold NaN or Inf" in bad.stdout
    clean = tmp_path / "clean.safetensors"
    save_file({"w": RNG.standard_normal((3, 3)).astype(np.float32)}, str(clean))
    ok = json.loads(run("inspect", clean, "--verify", "--json").stdout)
    assert ok["verified"] is True and ok["tensors"][0]["verify"] == "ok"


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """Two shards and model.safetensors.index.json as transformers writes it."""
    d = tmp_path_factory.mktemp("sharded")
    shards = [
        {"model.embed.weight": RNG.standard_normal((8, 4)).astype(np.float32),
         "model.layers.0.mlp.weight": RNG.standard_normal((4, 4)).astype(np.float16)},
        {"model.layers.1.mlp.weight": RNG.standard_normal((4, 4)).astype(np.float32),
         "lm_head.weight": RNG.standard_normal((2, 4)).astype(np.float64)},
    ]
    weight_map, total = {}, 0
    for i, tensors in enumerate(shards):
        name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(tensors, str(d / name), metadata={"format": "pt"})
        for k, v in tensors.items():
            weight_map[k] = name
            total += v.nbytes
    (d / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2, sort_keys=True) + "\n")
    return d, {k: v for s in shards for k, v in s.items()}, total


def test_sharded_set_by_directory_and_index(sharded):
    d, tensors, total = sharded
    for target in [d, d / "model.safetensors.index.json"]:
        doc = json.loads(run("inspect", target, "--json").stdout)
        assert doc["format"] == "sharded safetensors" and doc["total_size"] == total
        assert sorted(t["name"] for t in doc["tensors"]) == sorted(tensors)
        assert {t["name"]: t["shard"] for t in doc["tensors"]}["lm_head.weight"] == "model-00002-of-00002.safetensors"
    for name, arr in tensors.items():
        assert_float_bits(tensor_json(d, name), arr, 64 if arr.dtype == np.float64 else 32)
    # The index against the shards: a wrong total_size is refused.
    bad = json.loads((d / "model.safetensors.index.json").read_text())
    bad["metadata"]["total_size"] = total + 1
    (d / "bad.safetensors.index.json").write_text(json.dumps(bad))
    try:
        assert_trouble(run("inspect", d / "bad.safetensors.index.json", check=False), "total_size is", str(total + 1))
    finally:
        (d / "bad.safetensors.index.json").unlink()


@pytest.fixture(scope="module")
def gguf_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("gguf")
    path = d / "model.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_string("general.name", "tt-ckpt test")
    w.add_uint32("test.u32", 4000000000)
    w.add_float32("test.f32", 0.1)
    w.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "héllo"])
    floats = {
        "f32": specials(np.float32, 64).reshape(2, 32),
        "f16": RNG.standard_normal((3, 16)).astype(np.float16),
        "i32": np.array([-2**31, 0, 2**31 - 1, 7], dtype=np.int32),
    }
    for k, v in floats.items():
        w.add_tensor(k, v)
    bf = RNG.standard_normal((2, 8)).astype(np.float32)
    q8 = (RNG.standard_normal((4, 64)) * 3).astype(np.float32)
    q4 = RNG.standard_normal((2, 3, 32)).astype(np.float32)
    w.add_tensor("bf16", gguf.quants.quantize(bf, T.BF16), raw_dtype=T.BF16)
    w.add_tensor("q8_0", gguf.quants.quantize(q8, T.Q8_0), raw_dtype=T.Q8_0)
    w.add_tensor("q4_0", gguf.quants.quantize(q4, T.Q4_0), raw_dtype=T.Q4_0)
    w.add_tensor("q4_k", RNG.integers(0, 256, size=(1, 144), dtype=np.uint8), raw_dtype=T.Q4_K)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_gguf_values_equal_gguf_reads_and_dequantization(gguf_file):
    reader = gguf.GGUFReader(str(gguf_file))
    for t in reader.tensors:
        if t.tensor_type == T.Q4_K:
            assert_trouble(run("inspect", gguf_file, "--tensor", t.name, check=False), "values of Q4_K are not decoded")
            continue
        doc = tensor_json(gguf_file, t.name)
        shape = [int(x) for x in reversed(t.shape.tolist())]  # GGUF ne is fastest-first
        assert doc["shape"] == shape and doc["dtype"] == t.tensor_type.name
        if t.tensor_type == T.I32:
            assert flat(doc["values"]) == [int(x) for x in np.asarray(t.data).ravel()]
            continue
        if t.tensor_type in (T.F32, T.F16):
            expected = np.asarray(t.data)
        else:  # BF16, Q8_0, Q4_0: gguf's own dequantization
            expected = gguf.quants.dequantize(t.data, t.tensor_type)
        assert_float_bits(doc, np.asarray(expected, dtype=np.float32).reshape(shape), 32)


def test_gguf_metadata_and_tensor_infos(gguf_file):
    reader = gguf.GGUFReader(str(gguf_file))
    doc = json.loads(run("inspect", gguf_file, "--json").stdout)
    assert doc["format"] == "gguf" and doc["gguf_version"] == 3
    meta = {m["key"]: m for m in doc["metadata"]}
    assert meta["general.name"]["value"] == "tt-ckpt test" and meta["general.name"]["type"] == "str"
    assert meta["test.u32"]["value"] == 4000000000 and meta["test.u32"]["type"] == "u32"
    assert np.float32(meta["test.f32"]["value"]) == np.float32(0.1)
    assert meta["tokenizer.ggml.tokens"]["value"] == ["<s>", "</s>", "héllo"]
    assert [m["key"] for m in doc["metadata"]] == [k for k in reader.fields if not k.startswith("GGUF.")]
    infos = {t["name"]: t for t in doc["tensors"]}
    for t in reader.tensors:
        assert infos[t.name]["offset"] == int(t.data_offset) and infos[t.name]["bytes"] == int(t.n_bytes)
    assert infos["q4_k"]["values_decoded"] is False and infos["q8_0"]["values_decoded"] is True


def test_quantized_gguf_diffs_equal_to_its_dequantized_safetensors(gguf_file, tmp_path):
    reader = gguf.GGUFReader(str(gguf_file))
    tensors = {}
    for t in reader.tensors:
        if t.tensor_type in (T.F32, T.Q8_0, T.Q4_0):
            tensors[t.name] = np.ascontiguousarray(
                gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(list(reversed(t.shape.tolist()))))
    out = tmp_path / "dequantized.safetensors"
    save_file(tensors, str(out))
    # f32 holds a NaN, which never equals itself (numpy.allclose's equal_nan=False): the rest
    # must be equal, and the other GGUF tensors are reported as only in A.
    doc = json.loads(run("diff", gguf_file, out, "--json", check=False).stdout)
    status = {t["name"]: t["status"] for t in doc["tensors"]}
    assert status["q8_0"] == "equal" and status["q4_0"] == "equal"
    assert status["f32"] == "different" and {t["name"]: t for t in doc["tensors"]}["f32"]["outside_tolerance"] == 1
    assert status["q4_k"] == "only_in_a" and status["f16"] == "only_in_a"


def test_checkpoint_against_its_own_export(checkpoints, tmp_path):
    ckpt = checkpoints["resumed"]
    params = tmp_path / "params.safetensors"
    full = tmp_path / "full.safetensors"
    run("export", ckpt, params)
    run("export", ckpt, full, "--include-optimizer")
    doc = json.loads(run("diff", ckpt, params, "--json").stdout)
    assert doc["equal"] is True and doc["role"] == "params" and doc["fields_compared"] is False
    assert doc["tensors"] and all(t["status"] == "equal" and t["bit_differences"] == 0 for t in doc["tensors"])
    assert doc["summary"]["compared"] == doc["summary"]["equal"] == len(doc["tensors"])
    everything = json.loads(run("diff", ckpt, full, "--role", "all", "--json").stdout)
    assert everything["equal"] is True
    assert {t["name"] for t in everything["tensors"]} == {t["name"] for t in json.loads(run("inspect", ckpt, "--json").stdout)["tensors"]}
