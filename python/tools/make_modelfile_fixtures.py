#!/usr/bin/env python3
"""Writes the fixtures of tt-ckpt's foreign-format readers (TTInterop: safetensors, sharded
sets, GGUF) with the real Python packages, and the values those packages read back from
them, for Tests/TTCkptTests/Interop (ModelFileFixtureTests and the hostile-input tests).

    pip install numpy safetensors gguf ml_dtypes          # small wheels, no torch
    python3 python/tools/make_modelfile_fixtures.py [OUT]  # default: Tests/Fixtures/modelfiles

A rerun with the same package versions writes the same values and tensors (seeded numpy
generator); the order of `__metadata__` keys in a safetensors header may change between runs,
since the Rust reference keeps metadata in a hash map.

Files (all small; the whole directory stays well under 500 KB):
  all_dtypes.safetensors   safetensors.numpy.save_file: every dtype numpy can express
                           (BOOL U8 I8 I16 U16 I32 U32 I64 U64 F16 F32 F64 C64), with
                           NaN, ±Inf, -0, subnormals and extremes; __metadata__.
  raw_dtypes.safetensors   safetensors.serialize_file with raw bytes (TensorSpec): BF16 and
                           the float8 types (every byte value), F4 (listed, not decoded).
  f6.safetensors           F6_E2M3 / F6_E3M2 (listed, not decoded): the Python API has no
                           F6 framework dtype, so the header is written here by hand, and
                           safetensors.deserialize (the Rust reference) is made to accept it.
  sharded/                 two shards (safetensors.numpy.save_file) and
                           model.safetensors.index.json as transformers writes it
                           (json.dumps(index, indent=2, sort_keys=True) + "\\n").
  model-v3.gguf            gguf.GGUFWriter: F32 F16 BF16 Q8_0 Q4_0 F64 I8 I16 I32 I64 tensors
                           of 1 to 4 dims (quantized with gguf.quants), a Q4_K tensor of raw
                           bytes (listed, not decoded), metadata of every value type including
                           arrays of each, a string array and a nested array.
  model-v2.gguf            GGUFWriter cannot write version 2 (it writes GGUF_VERSION = 3), so
                           this is a GGUFWriter file with general.alignment = 64 whose version
                           field is then patched to 2: v2 and v3 share one layout (v3 only
                           added big-endian files). gguf.GGUFReader is made to read it.
  gpt2-hf.safetensors,     one random 1-layer gpt2 (V 11, T 4, D 8) stored twice with numpy:
  gpt2-nanogpt.safetensors under transformers' GPT2LMHeadModel names (Conv1D weights (in, out),
                           no lm_head) and under nanoGPT's (nn.Linear (out, in), lm_head.weight
                           = wte), for `diff --map`.
  expected.json            what numpy / safetensors / gguf read: per tensor the decoded values
                           as little-endian hex (float32 for types that decode to Float,
                           float64 for F64 and 32/64-bit integers), shape, byte size and
                           numpy statistics; per GGUF key the type and value.
"""
import json
import os
import struct
import sys

import numpy as np
import safetensors
import safetensors.numpy
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V

try:
    import ml_dtypes
except ImportError:  # float8 expectations are then left out, and the Swift test says so
    ml_dtypes = None

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "modelfiles")
os.makedirs(os.path.join(OUT, "sharded"), exist_ok=True)
rng = np.random.default_rng(20240613)
expected = {
    "versions": {"numpy": np.__version__, "safetensors": safetensors.__version__,
                 "gguf": _v if (_v := getattr(gguf, "__version__", None)) else __import__("importlib.metadata").metadata.version("gguf"),
                 "ml_dtypes": getattr(ml_dtypes, "__version__", None)},
    "files": {},
}

DOUBLE_KINDS = {"float64", "int32", "uint32", "int64", "uint64"}


def values_entry(decoded):
    """Decoded values as numpy would give them: float32, or float64 for wide types."""
    kind = "f64" if decoded.dtype.name in DOUBLE_KINDS else "f32"
    out = decoded.astype(np.float64 if kind == "f64" else np.float32).ravel()
    finite = out[np.isfinite(out)].astype(np.float64)
    stats = {
        "count": int(out.size), "nan": int(np.isnan(out).sum()),
        "posinf": int(np.isposinf(out).sum()), "neginf": int(np.isneginf(out).sum()),
        "zero": int((out == 0).sum()),
    }
    if finite.size:
        stats.update(min=float(finite.min()), max=float(finite.max()))
        with np.errstate(over="ignore"):
            mean, std = float(finite.mean()), float(finite.std())
        if np.isfinite(mean) and np.isfinite(std):  # JSON has no inf; such tensors skip the check
            stats.update(mean=mean, std=std)
    return {"kind": kind, "values_hex": out.astype("<f8" if kind == "f64" else "<f4").tobytes().hex(), "stats": stats}


def special_floats(dtype, n):
    info = np.finfo(dtype)
    specials = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, info.max, -info.max, info.tiny,
                         info.smallest_subnormal, -info.smallest_subnormal, 1.0, -1.5], dtype=dtype)
    body = rng.standard_normal(n - specials.size).astype(dtype)
    return np.concatenate([specials, body])


# ---------------------------------------------------------------- safetensors, numpy dtypes
st_tensors = {
    "bool": rng.integers(0, 2, size=(3, 5)).astype(np.bool_),
    "u8": np.array([0, 1, 127, 128, 255, 7], dtype=np.uint8).reshape(2, 3),
    "i8": np.array([-128, -1, 0, 1, 127, 5], dtype=np.int8),
    "i16": np.array([-32768, -1, 0, 1, 32767, 300], dtype=np.int16).reshape(3, 2),
    "u16": np.array([0, 1, 65535, 40000], dtype=np.uint16),
    "i32": np.array([-2**31, -1, 0, 1, 2**31 - 1, 16777217], dtype=np.int32),
    "u32": np.array([0, 1, 2**32 - 1, 16777217], dtype=np.uint32),
    "i64": np.array([-2**63, -1, 0, 1, 2**63 - 1, 2**53 + 1], dtype=np.int64),
    "u64": np.array([0, 1, 2**64 - 1, 2**53 + 1], dtype=np.uint64),
    "f16": special_floats(np.float16, 40).reshape(5, 8),
    "f32": special_floats(np.float32, 48).reshape(2, 3, 8),
    "f64": special_floats(np.float64, 24).reshape(4, 6),
    "c64": (rng.standard_normal(4) + 1j * rng.standard_normal(4)).astype(np.complex64),
    "scalar": np.array(3.25, dtype=np.float32),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "layers.0.attn.weight": rng.standard_normal((4, 4)).astype(np.float32),
}
path = os.path.join(OUT, "all_dtypes.safetensors")
safetensors.numpy.save_file(st_tensors, path, metadata={"format": "np", "note": "tt-ckpt fixture"})
entries = []
with safetensors.safe_open(path, framework="np") as f:
    meta = f.metadata()
    for name in sorted(f.keys()):
        arr = f.get_tensor(name)  # what the reference reads back
        e = {"name": name, "dtype": f.get_slice(name).get_dtype(), "shape": list(arr.shape), "bytes": int(arr.nbytes)}
        if arr.dtype != np.complex64:
            e.update(values_entry(arr))
        entries.append(e)
expected["files"]["all_dtypes.safetensors"] = {"format": "safetensors", "metadata": meta, "tensors": entries}

# ---------------------------------------------------------------- safetensors, raw-byte dtypes
all_bytes = np.arange(256, dtype=np.uint8)
bf16_bits = np.concatenate([
    np.array([0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0x7F81, 0x0001, 0x807F, 0x3F80, 0xC040], dtype=np.uint16),
    (rng.standard_normal(22).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)])
raw = {  # name: (TensorSpec dtype, header dtype, shape, bytes, expected float32 or None)
    "bf16": ("bfloat16", "BF16", [4, 8], bf16_bits.astype("<u2").tobytes(),
             (bf16_bits.astype(np.uint32) << 16).view(np.float32)),
    "f4": ("float4_e2m1fn_x2", "F4", [2, 4], bytes([0x12, 0x34, 0x56, 0x78]), None),
}
if ml_dtypes is not None:
    for spec, header, mdt in [("float8_e4m3fn", "F8_E4M3", ml_dtypes.float8_e4m3fn),
                              ("float8_e5m2", "F8_E5M2", ml_dtypes.float8_e5m2),
                              ("float8_e4m3fnuz", "F8_E4M3FNUZ", ml_dtypes.float8_e4m3fnuz),
                              ("float8_e5m2fnuz", "F8_E5M2FNUZ", ml_dtypes.float8_e5m2fnuz),
                              ("float8_e8m0fnu", "F8_E8M0", ml_dtypes.float8_e8m0fnu)]:
        raw[header.lower()] = (spec, header, [16, 16], all_bytes.tobytes(), all_bytes.view(mdt).astype(np.float32))
keep = []
specs = {}
for name, (spec, header, shape, data, _) in raw.items():
    buf = np.frombuffer(data, dtype=np.uint8).copy()
    keep.append(buf)
    # F4: TensorSpec takes the storage shape (bytes) and doubles the last dimension itself.
    storage_shape = shape[:-1] + [shape[-1] // 2] if header == "F4" else shape
    specs[name] = safetensors.TensorSpec(dtype=spec, shape=storage_shape, data_ptr=buf.ctypes.data, data_len=buf.nbytes)
path = os.path.join(OUT, "raw_dtypes.safetensors")
safetensors.serialize_file(specs, path, metadata={"written_by": "safetensors.serialize_file"})
entries = []
with open(path, "rb") as fh:
    for name, info in safetensors.deserialize(fh.read()):  # the reference's own reading
        spec, header, shape, data, values = raw[name]
        assert info["dtype"] == header and list(info["shape"]) == shape and bytes(info["data"]) == data, name
        e = {"name": name, "dtype": header, "shape": shape, "bytes": len(data)}
        if values is not None:
            e.update(values_entry(values))
            e["nan_compare_by_class"] = header.startswith("F8")  # ml_dtypes' NaN payload is its own
        entries.append(e)
expected["files"]["raw_dtypes.safetensors"] = {"format": "safetensors",
                                               "metadata": {"written_by": "safetensors.serialize_file"},
                                               "tensors": sorted(entries, key=lambda e: e["name"])}

# ---------------------------------------------------------------- safetensors, F6 by hand
header = {"f6_e2m3": {"dtype": "F6_E2M3", "shape": [2, 4], "data_offsets": [0, 6]},
          "f6_e3m2": {"dtype": "F6_E3M2", "shape": [4], "data_offsets": [6, 9]}}
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
blob = struct.pack("<Q", len(h)) + h + bytes(range(1, 10))
back = dict(safetensors.deserialize(blob))
assert back["f6_e2m3"]["dtype"] == "F6_E2M3" and len(back["f6_e3m2"]["data"]) == 3
with open(os.path.join(OUT, "f6.safetensors"), "wb") as fh:
    fh.write(blob)
expected["files"]["f6.safetensors"] = {"format": "safetensors", "metadata": None, "tensors": [
    {"name": "f6_e2m3", "dtype": "F6_E2M3", "shape": [2, 4], "bytes": 6},
    {"name": "f6_e3m2", "dtype": "F6_E3M2", "shape": [4], "bytes": 3}]}

# ---------------------------------------------------------------- sharded set
shard_tensors = [
    {"model.embed.weight": rng.standard_normal((8, 4)).astype(np.float32),
     "model.layers.0.mlp.weight": rng.standard_normal((4, 4)).astype(np.float16)},
    {"model.layers.1.mlp.weight": rng.standard_normal((4, 4)).astype(np.float32),
     "model.norm.bias": np.arange(4, dtype=np.int64),
     "lm_head.weight": rng.standard_normal((2, 4)).astype(np.float64)},
]
weight_map, total = {}, 0
for i, tensors in enumerate(shard_tensors):
    fname = f"model-{i + 1:05d}-of-{len(shard_tensors):05d}.safetensors"
    safetensors.numpy.save_file(tensors, os.path.join(OUT, "sharded", fname), metadata={"format": "pt"})
    for k, v in tensors.items():
        weight_map[k] = fname
        total += v.nbytes
index = {"metadata": {"total_size": total}, "weight_map": weight_map}
with open(os.path.join(OUT, "sharded", "model.safetensors.index.json"), "w") as fh:
    fh.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
entries = []
for fname in sorted(set(weight_map.values())):
    with safetensors.safe_open(os.path.join(OUT, "sharded", fname), framework="np") as f:
        for name in f.keys():
            arr = f.get_tensor(name)
            entries.append({"name": name, "dtype": f.get_slice(name).get_dtype(), "shape": list(arr.shape),
                            "bytes": int(arr.nbytes), "shard": fname, **values_entry(arr)})
expected["files"]["sharded"] = {"format": "shardedSafetensors", "total_size": total, "tensors": entries}

# ---------------------------------------------------------------- GGUF
def gguf_value_json(field):
    """A GGUFReader field as JSON: type names and values (float32/64 as hex bits)."""
    types = [t.name for t in field.types]
    main = field.types[0]
    if main == V.ARRAY:
        sub = field.types[-1]
        vals = field.contents()
        if sub == V.FLOAT32:
            vals = [np.float32(v).view("<u4").item() for v in vals]
        elif sub == V.FLOAT64:
            vals = [np.float64(v).view("<u8").item() for v in vals]
        return {"types": types, "value": vals}
    v = field.contents()
    if main == V.FLOAT32:
        v = np.float32(v).view("<u4").item()
    elif main == V.FLOAT64:
        v = np.float64(v).view("<u8").item()
    return {"types": types, "value": v}


def read_gguf_expected(path):
    r = gguf.GGUFReader(path)
    kvs = [{"key": k, **gguf_value_json(f)} for k, f in r.fields.items() if not k.startswith("GGUF.")]
    tensors = []
    for t in r.tensors:
        e = {"name": t.name, "dtype": t.tensor_type.name, "dims": [int(d) for d in t.shape],
             "shape": [int(d) for d in reversed(t.shape.tolist())], "bytes": int(t.n_bytes),
             "offset": int(t.data_offset)}
        if t.tensor_type in (T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.F64, T.I8, T.I16, T.I32, T.I64):
            if t.tensor_type in (T.F64, T.I32, T.I64):
                decoded = np.asarray(t.data).astype(np.float64)
            elif t.tensor_type in (T.I8, T.I16):
                decoded = np.asarray(t.data).astype(np.float32)
            else:
                decoded = gguf.quants.dequantize(t.data, t.tensor_type)  # gguf's own dequantization
            e.update(values_entry(np.asarray(decoded)))
        tensors.append(e)
    return {"format": "gguf", "version": int(r.fields["GGUF.version"].contents()),
            "alignment": int(r.alignment), "data_offset": int(r.data_offset), "kv": kvs, "tensors": tensors}


def gguf_tensors(w):
    f32 = special_floats(np.float32, 64).reshape(2, 32)
    w.add_tensor("f32.special", f32)
    w.add_tensor("f16.matrix", rng.standard_normal((3, 16)).astype(np.float16))
    bf = rng.standard_normal((2, 8)).astype(np.float32)
    w.add_tensor("bf16.matrix", gguf.quants.quantize(bf, T.BF16), raw_dtype=T.BF16)
    q8 = (rng.standard_normal((4, 64)) * 3).astype(np.float32)
    q8[0, :32] = 0.0  # an all-zero block: d = 0
    w.add_tensor("q8_0.weight", gguf.quants.quantize(q8, T.Q8_0), raw_dtype=T.Q8_0)
    q4 = rng.standard_normal((2, 3, 32)).astype(np.float32)
    w.add_tensor("q4_0.weight", gguf.quants.quantize(q4, T.Q4_0), raw_dtype=T.Q4_0)
    w.add_tensor("f64.vector", special_floats(np.float64, 12))
    w.add_tensor("i8.vector", np.array([-128, -1, 0, 127], dtype=np.int8))
    w.add_tensor("i16.vector", np.array([-32768, 0, 32767], dtype=np.int16))
    w.add_tensor("i32.matrix", np.array([[-2**31, 0], [2**31 - 1, 16777217]], dtype=np.int32))
    w.add_tensor("i64.vector", np.array([-2**63, 2**53 + 1, 2**63 - 1], dtype=np.int64))
    w.add_tensor("f32.4d", rng.standard_normal((2, 1, 3, 2)).astype(np.float32))
    w.add_tensor("q4_k.listed", rng.integers(0, 256, size=(1, 144), dtype=np.uint8), raw_dtype=T.Q4_K)


path = os.path.join(OUT, "model-v3.gguf")
w = gguf.GGUFWriter(path, "llama")
w.add_uint8("test.u8", 200)
w.add_int8("test.i8", -100)
w.add_uint16("test.u16", 60000)
w.add_int16("test.i16", -30000)
w.add_uint32("test.u32", 4000000000)
w.add_int32("test.i32", -2000000000)
w.add_float32("test.f32", 0.1)
w.add_uint64("test.u64", 2**64 - 1)
w.add_int64("test.i64", -2**63)
w.add_float64("test.f64", -1e300)
w.add_bool("test.bool", True)
w.add_string("test.string", "héllo\nwörld \u2028 ✓")
for vt, vals in [(V.UINT8, [0, 255]), (V.INT8, [-128, 127]), (V.UINT16, [1, 65535]), (V.INT16, [-1, 2]),
                 (V.UINT32, [7, 4294967295]), (V.INT32, [-5, 5]), (V.FLOAT32, [1.5, -0.0, float("inf")]),
                 (V.UINT64, [2**64 - 1]), (V.INT64, [-2**63, 3]), (V.FLOAT64, [2.5, float("nan")]),
                 (V.BOOL, [True, False, True])]:
    w.add_key_value(f"test.array.{vt.name.lower()}", vals, V.ARRAY, sub_type=vt)
w.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "hello", " wörld", ""])
w.add_key_value("test.array.nested", [[1, 2, 3], [4]], V.ARRAY, sub_type=V.ARRAY)
gguf_tensors(w)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
expected["files"]["model-v3.gguf"] = read_gguf_expected(path)

path = os.path.join(OUT, "model-v2.gguf")
w = gguf.GGUFWriter(path, "gpt2")
w.add_custom_alignment(64)
w.add_string("general.name", "v2 fixture")
w.add_tensor("token_embd.weight", rng.standard_normal((3, 32)).astype(np.float32))
w.add_tensor("blk.0.q8", gguf.quants.quantize(rng.standard_normal((1, 64)).astype(np.float32), T.Q8_0), raw_dtype=T.Q8_0)
w.add_tensor("output_norm.weight", rng.standard_normal(5).astype(np.float16))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
with open(path, "r+b") as fh:
    fh.seek(4)
    assert struct.unpack("<I", fh.read(4))[0] == 3
    fh.seek(4)
    fh.write(struct.pack("<I", 2))
expected["files"]["model-v2.gguf"] = read_gguf_expected(path)
assert expected["files"]["model-v2.gguf"]["version"] == 2

# ---------------------------------------------------------------- quantization check
# Is gguf.quants' dequantization bit-identical to ggml's reference (dequantize_row_q8_0 /
# q4_0: y = q * d in float32, d = fp16 → fp32)? Recompute it here the way the C code does,
# block by block, and compare bits.
def ggml_reference(blocks, qtype):
    out = []
    for b in blocks.reshape(-1, 34 if qtype == T.Q8_0 else 18):
        d = np.frombuffer(b[:2].tobytes(), dtype="<f2")[0].astype(np.float32)
        if qtype == T.Q8_0:
            q = b[2:].view(np.int8).astype(np.int32)
            out += [np.float32(np.float32(x) * d) for x in q]
        else:
            lo = [(int(x) & 0x0F) - 8 for x in b[2:]]
            hi = [(int(x) >> 4) - 8 for x in b[2:]]
            out += [np.float32(np.float32(x) * d) for x in lo + hi]
    return np.array(out, dtype=np.float32)


r = gguf.GGUFReader(os.path.join(OUT, "model-v3.gguf"))
for t in r.tensors:
    if t.tensor_type in (T.Q8_0, T.Q4_0):
        a = gguf.quants.dequantize(t.data, t.tensor_type).ravel()
        b = ggml_reference(np.asarray(t.data), t.tensor_type)
        assert a.view(np.uint32).tolist() == b.view(np.uint32).tolist(), t.name
expected["quant_check"] = "gguf.quants.dequantize equals the ggml reference formula bit for bit on every Q8_0/Q4_0 tensor"

# ---------------------------------------------------------------- gpt2 names, two layouts
# The same weights under transformers' and nanoGPT's names. transformers' Conv1D keeps a
# weight as (in, out) and computes x @ W; nanoGPT's nn.Linear keeps (out, in) and computes
# x @ W.T: so c_attn, attn.c_proj, mlp.c_fc and mlp.c_proj are transposes of each other.
V, T_, D = 11, 4, 8
linear = {  # nanoGPT layout (out, in)
    "transformer.wte.weight": rng.standard_normal((V, D)),
    "transformer.wpe.weight": rng.standard_normal((T_, D)),
    "transformer.h.0.ln_1.weight": 1 + 0.1 * rng.standard_normal(D), "transformer.h.0.ln_1.bias": rng.standard_normal(D),
    "transformer.h.0.attn.c_attn.weight": rng.standard_normal((3 * D, D)), "transformer.h.0.attn.c_attn.bias": rng.standard_normal(3 * D),
    "transformer.h.0.attn.c_proj.weight": rng.standard_normal((D, D)), "transformer.h.0.attn.c_proj.bias": rng.standard_normal(D),
    "transformer.h.0.ln_2.weight": 1 + 0.1 * rng.standard_normal(D), "transformer.h.0.ln_2.bias": rng.standard_normal(D),
    "transformer.h.0.mlp.c_fc.weight": rng.standard_normal((4 * D, D)), "transformer.h.0.mlp.c_fc.bias": rng.standard_normal(4 * D),
    "transformer.h.0.mlp.c_proj.weight": rng.standard_normal((D, 4 * D)), "transformer.h.0.mlp.c_proj.bias": rng.standard_normal(D),
    "transformer.ln_f.weight": 1 + 0.1 * rng.standard_normal(D), "transformer.ln_f.bias": rng.standard_normal(D),
}
linear = {k: v.astype(np.float32) for k, v in linear.items()}
conv1d = {k: (np.ascontiguousarray(v.T) if v.ndim == 2 and ".h." in k else v) for k, v in linear.items()}
nano = dict(linear)
nano["lm_head.weight"] = linear["transformer.wte.weight"].copy()
safetensors.numpy.save_file(conv1d, os.path.join(OUT, "gpt2-hf.safetensors"), metadata={"format": "pt"})
safetensors.numpy.save_file(nano, os.path.join(OUT, "gpt2-nanogpt.safetensors"))
expected["files"]["gpt2-hf.safetensors"] = {"format": "safetensors", "shapes": {k: list(v.shape) for k, v in conv1d.items()}}
expected["files"]["gpt2-nanogpt.safetensors"] = {"format": "safetensors", "shapes": {k: list(v.shape) for k, v in nano.items()}}

with open(os.path.join(OUT, "expected.json"), "w") as fh:
    json.dump(expected, fh, indent=1, sort_keys=True, allow_nan=False)
    fh.write("\n")
print("wrote", OUT, expected["versions"])
