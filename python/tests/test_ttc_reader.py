"""python/ttc.py, written from spec/FORMAT.md, against files written by the Swift code."""
import itertools
import struct
import zlib

import numpy as np
import pytest
from safetensors.numpy import load_file

import ttc
from ttckpt import format as ttf
from conftest import REPO, run, run_json

FILES = ["init", "trained", "resumed", "gpt"]
# The committed golden files (samples/README.md), made by a release build.
SAMPLES = sorted(p.name for p in (REPO / "samples").glob("*.ttc"))


def resolve(checkpoints, which):
    return REPO / "samples" / which if which.endswith(".ttc") else checkpoints[which]


@pytest.mark.parametrize("which", FILES + SAMPLES)
def test_reads_swift_files_and_matches_inspect_and_export(checkpoints, tmp_path, which):
    path = resolve(checkpoints, which)
    meta, tensors = ttc.load(path)  # verifies every CRC
    info = run_json("inspect", path, "--json")
    # Directory: the same entries, in the same order, as inspect reports.
    with ttc.TTCFile(path) as f:
        entries = f.entries
    assert [e.name for e in entries] == [t["name"] for t in info["tensors"]]
    for e, t in zip(entries, info["tensors"]):
        assert (e.role, e.dtype, list(e.shape), e.filter) == (t["role"], t["dtype"], t["shape"], t["filter"])
        assert (e.offset, e.stored_length, e.raw_length, e.raw_crc32) == (t["offset"], t["stored_bytes"], t["raw_bytes"], t["crc32"])
    # Metadata.
    for key, value in info["config"].items():
        assert meta[f"model.{key}"] == value, key
    assert meta["vocab.kind"] == info["vocab"]["kind"]
    assert meta["vocab.tokens"] == info["vocab"]["tokens"]
    tr = info["training"]
    assert meta["train.step"] == tr["step"] and meta["train.seed"] == tr["seed"]
    assert meta["train.session_starts"].tolist() == tr["session_starts"]
    # inspect prints each float32 loss as its shortest round-trip decimal: exact equality.
    assert np.array_equal(meta["train.loss_history"], np.array(tr["loss_history"], np.float64).astype(np.float32))
    assert meta["rng.index"] == tr["rng"]["index"]
    # Values: bit-identical to what `tt-ckpt export` writes (an independent path through
    # the Swift reader and the safetensors writer).
    exported = tmp_path / "x.safetensors"
    run("export", path, exported, "--include-optimizer")
    st = load_file(str(exported))
    assert set(st) == set(tensors)
    for name, values in tensors.items():
        assert values.dtype == np.float32 and values.shape == st[name].shape
        assert np.array_equal(values.view(np.uint32), st[name].view(np.uint32)), name


def test_every_dtype_and_filter_in_use_is_covered(checkpoints):
    seen = set()
    for which in FILES + SAMPLES:
        with ttc.TTCFile(resolve(checkpoints, which)) as f:
            seen |= {(e.dtype, e.filter) for e in f.entries}
    # The spec defines dtype f32 and filters none/shuffle; the Swift writer's automatic
    # choice uses both on these files (zero moments compress best unshuffled, trained
    # weights shuffled), so both decoding paths ran above.
    assert seen == {("f32", "none"), ("f32", "shuffle")}, seen


def corrupt(src, dst, offset, xor=0x01):
    data = bytearray(src.read_bytes())
    data[offset] ^= xor
    dst.write_bytes(bytes(data))
    return dst


def test_detects_corruption_in_every_region(checkpoints, tmp_path):
    src = checkpoints["trained"]
    with ttc.TTCFile(src) as f:
        header_length = f.header_length
        entry = f.entries[3]
    cases = [
        (0, "notTTC"),                       # magic
        (8, "unsupportedVersion"),           # major
        (10, "preambleCRC"),                 # minor (covered by the preamble CRC)
        (32 + header_length // 2, "headerCRC"),
    ]
    for offset, kind in cases:
        bad = corrupt(src, tmp_path / f"bad{offset}.ttc", offset)
        with pytest.raises(ttc.FormatError) as e:
            ttc.load(bad)
        assert e.value.kind == kind, (offset, e.value)
    # A byte in a blob: the directory still reads; loading that tensor fails its stored CRC.
    bad = corrupt(src, tmp_path / "blob.ttc", entry.offset + entry.stored_length // 2)
    with ttc.TTCFile(bad) as f:
        with pytest.raises(ttc.FormatError) as e:
            f.load_tensor(entry.name)
        assert e.value.kind == "storedCRC" and entry.name in str(e.value)
    # Truncated and extended files.
    data = src.read_bytes()
    (tmp_path / "short.ttc").write_bytes(data[:-1])
    with pytest.raises(ttc.FormatError) as e:
        ttc.TTCFile(tmp_path / "short.ttc")
    assert e.value.kind == "blobOutOfFile"
    (tmp_path / "long.ttc").write_bytes(data + b"\0")
    with pytest.raises(ttc.FormatError) as e:
        ttc.TTCFile(tmp_path / "long.ttc")
    assert e.value.kind == "trailingBytes"
    (tmp_path / "tiny.ttc").write_bytes(data[:20])
    with pytest.raises(ttc.FormatError) as e:
        ttc.TTCFile(tmp_path / "tiny.ttc")
    assert e.value.kind == "truncated"


def test_raw_crc_checked_after_unshuffle(checkpoints, tmp_path):
    """Re-compress one blob with its bytes altered (and fix the stored CRC and header CRC
    by hand, as the spec describes them), so only the raw CRC can catch it."""
    src = checkpoints["trained"]
    with ttc.TTCFile(src) as f:
        e = next(x for x in f.entries if x.filter == "shuffle")
        original = f.load_tensor(e.name)
    data = bytearray(src.read_bytes())
    blob = bytes(data[e.offset:e.offset + e.stored_length])
    filtered = bytearray(zlib.decompress(blob))
    filtered[0] ^= 1
    def deflate(level, strategy):
        c = zlib.compressobj(level, zlib.DEFLATED, 15, 8, strategy)
        return c.compress(bytes(filtered)) + c.flush()
    # Find an encoding whose stream has the same length, to keep placement: the writer's
    # own byte-plane encoder (one flipped bit of a stored plane keeps its length), else a
    # zlib level and strategy.
    strategies = (zlib.Z_RLE, zlib.Z_DEFAULT_STRATEGY, zlib.Z_HUFFMAN_ONLY)
    candidates = itertools.chain([ttf._plane_stream(bytes(filtered), 4)],
                                 (deflate(level, strategy) for strategy in strategies for level in range(10)))
    new = next((c for c in candidates if len(c) == e.stored_length), None)
    assert new is not None, "no encoding gives a same-length stream for this blob"
    data[e.offset:e.offset + e.stored_length] = new
    # Patch stored_crc32 in the directory entry: find the old CRC after the entry's name.
    name = e.name.encode()
    pos = data.index(struct.pack("<I", len(name)) + name, 32)
    fixed = pos + 4 + len(name) + 5 + 8 * len(e.shape) + 24
    assert struct.unpack_from("<II", data, fixed) == (e.raw_crc32, e.stored_crc32)
    struct.pack_into("<I", data, fixed + 4, zlib.crc32(new))
    (header_length,) = struct.unpack_from("<Q", data, 16)
    struct.pack_into("<I", data, 24, zlib.crc32(bytes(data[32:32 + header_length])))
    struct.pack_into("<I", data, 28, zlib.crc32(bytes(data[:28])))
    bad = tmp_path / "rawcrc.ttc"
    bad.write_bytes(bytes(data))
    with ttc.TTCFile(bad) as f:
        with pytest.raises(ttc.FormatError) as err:
            f.load_tensor(e.name)
    assert err.value.kind == "rawCRC"
    assert original.size > 0


def test_command_line_summary(checkpoints):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, ttc.__file__, str(checkpoints["gpt"])], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "all CRCs ok" in out.stdout and "ln_f.gamma" in out.stdout
