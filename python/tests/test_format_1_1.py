"""Format 1.1 (spec/FORMAT.md) in ttckpt.format against tt-ckpt: the same rules, the same
messages for the content rules, critical sections, unknown tensor codes, the hash section and
the model digest (issue 11 #12, #19, #20)."""
import hashlib
import struct
import zlib

import numpy as np
import pytest
from safetensors.numpy import load_file

import ttckpt
from ttckpt import format as ttf
from conftest import REPO, assert_trouble, run


def rebuilt(src, edit_items=None, edit_entries=None, extra_sections=(), digests=True):
    """The file at ``src`` with its header rebuilt from parts (every CRC and offset right):
    metadata edited by ``edit_items(items)``, directory entries by ``edit_entries(list of
    dicts)``, extra sections appended, the hash section kept unless ``digests`` is False."""
    data = src.read_bytes()
    with ttckpt.TTCFile(src) as f:
        items, entries, stored_digests, header_length = dict(f.metadata), list(f.entries), f.digests, f.header_length
    if edit_items:
        edit_items(items)
    meta = ttf._encode_metadata(items, lambda m: pytest.fail(m))
    rows = [dict(e._asdict()) for e in entries]
    if edit_entries:
        edit_entries(rows)

    def tdir(offsets):
        out = [struct.pack("<Q", len(rows))]
        for r, off in zip(rows, offsets):
            nb = r["name"].encode()
            dtype, compression, filt = r["codes"]
            out.append(struct.pack("<I", len(nb)) + nb + bytes([ttf.ROLE_CODES[r["role"]], dtype, compression, filt,
                                                                len(r["shape"])]))
            out.append(b"".join(struct.pack("<Q", d) for d in r["shape"]))
            out.append(struct.pack("<QQQII", off, r["stored_length"], r["raw_length"], r["raw_crc32"], r["stored_crc32"]))
        return b"".join(out)

    hashes = struct.pack("<Q", len(rows)) + b"".join(stored_digests) if digests and stored_digests else None
    extra = b"".join(struct.pack("<IQ", tag, len(p)) + p for tag, p in extra_sections)

    def header(offsets):
        h = struct.pack("<IQ", ttf.TAG_META, len(meta)) + meta
        d = tdir(offsets)
        h += struct.pack("<IQ", ttf.TAG_TDIR, len(d)) + d
        if hashes is not None:
            h += struct.pack("<IQ", ttf.TAG_HASH, len(hashes)) + hashes
        return h + extra

    length = len(header([0] * len(rows)))
    offsets, off = [], 32 + length
    for r in rows:
        offsets.append(off)
        off += r["stored_length"]
    h = header(offsets)
    blobs = b"".join(data[e.offset:e.offset + e.stored_length] for e in entries)
    pre = ttf.MAGIC + struct.pack("<HHIQI", 1, 1, 0, len(h), zlib.crc32(h))
    return pre + struct.pack("<I", zlib.crc32(pre)) + h + blobs


def python_error(data):
    with pytest.raises(ttckpt.FormatError) as e:
        with ttckpt.TTCFile("x.ttc", data) as f:
            f.checkpoint()
            f.verify()
    return e.value


def set_tokens(kind, tokens):
    def edit(items):
        items["vocab.kind"] = ("string", kind)
        items["vocab.tokens"] = ("array<string>", tokens)
    return edit


CONTENT_CASES = [
    ("dup", set_tokens("word", ["<PAD>", "<BOS>", "<EOS>", "I", "like", "I"])),
    ("empty", set_tokens("word", ["<PAD>", "<BOS>", "<EOS>", "", "like", "transformers"])),
    ("space", set_tokens("word", ["<PAD>", "<BOS>", "<EOS>", "I like", "like", "transformers"])),
    ("ab", set_tokens("char", ["a", "b", "ab", "c", "d", "e"])),
    ("byte6", set_tokens("byte", ["a", "b", "c", "d", "e", "f"])),
    ("sessions", lambda m: m.__setitem__("train.session_starts", ("array<u64>", np.array([20, 1], np.uint64)))),
    ("tokens", lambda m: m.update({"train.step": ("u64", 0), "train.loss_history": ("array<f32>", np.zeros(0, np.float32)),
                                   "train.session_starts": ("array<u64>", np.zeros(0, np.uint64))})),
    ("eps", lambda m: m.__setitem__("optim.epsilon", ("f64", 1e-46))),
]


@pytest.mark.parametrize("name, edit", CONTENT_CASES, ids=[c[0] for c in CONTENT_CASES])
def test_content_rules_give_tt_ckpts_exact_message(checkpoints, tmp_path, name, edit):
    """§3.3 gives the messages exactly: Python's FormatError says what tt-ckpt prints."""
    path = tmp_path / "bad.ttc"
    path.write_bytes(rebuilt(checkpoints["resumed"], edit_items=edit))
    err = python_error(path.read_bytes())
    assert err.kind == "invalidValue"
    result = run("inspect", path, check=False)
    assert_trouble(result)
    assert result.stderr_lines[0] == f"tt-ckpt: {path}: {err.message}"


def test_sections_critical_and_ancillary(checkpoints, tmp_path):
    src = checkpoints["trained"]
    ok = tmp_path / "ok.ttc"
    ok.write_bytes(rebuilt(src, extra_sections=[(struct.unpack("<I", b"funk")[0], b"\x01\x02")]))
    assert ttckpt.read(ok).training.step == ttckpt.read(src).training.step
    run("inspect", ok, "--verify")
    bad = tmp_path / "bad.ttc"
    bad.write_bytes(rebuilt(src, extra_sections=[(struct.unpack("<I", b"FUNK")[0], b"\x01\x02")]))
    err = python_error(bad.read_bytes())
    assert err.kind == "unknownCriticalSection" and "'FUNK' is critical" in err.message
    assert_trouble(run("inspect", bad, check=False), "section 'FUNK' is critical")


@pytest.mark.parametrize("codes, label", [((9, 1, 0), "dtype 9"), ((0, 7, 0), "compression 7"), ((0, 1, 5), "filter 5")])
def test_unknown_tensor_codes_fail_only_that_tensor(checkpoints, tmp_path, codes, label):
    def edit(rows):
        i = next(i for i, r in enumerate(rows) if r["name"] == "lm_head")
        rows[i]["codes"] = codes
    path = tmp_path / "future.ttc"
    path.write_bytes(rebuilt(checkpoints["trained"], edit_entries=edit))
    with ttckpt.TTCFile(path) as f:
        entry = next(e for e in f.entries if e.name == "lm_head")
        assert label in (entry.dtype, entry.compression, entry.filter)
        for e in f.entries:
            if e.name != "lm_head":
                f.load_tensor(e.name, verify_digest=True)
        with pytest.raises(ttckpt.FormatError) as e:
            f.load_tensor("lm_head")
        assert e.value.kind == "unsupportedEncoding" and e.value.message.startswith(f"tensor 'lm_head': {label} is not known")
        stored = f.stored_model_digest()
    # The digest lists the dtype code: the same model for an unknown compression or filter.
    assert (stored == ttckpt.TTCFile(checkpoints["trained"]).model_digest()) == (codes[0] == 0)
    assert run("inspect", path).status == 0
    assert_trouble(run("sample", path, check=False), f"tensor 'lm_head': {label} is not known to this reader")


def test_hash_section_and_model_digest(checkpoints, tmp_path):
    """The per-tensor SHA-256 are hashlib's of the raw bytes; the model digest of a .ttc, of
    its 1.0 twin (computed from the data) and of its safetensors export (read with the
    safetensors package) agree; a blob rewritten with its CRCs is caught by the digest."""
    for which in ("trained", "gpt_opts"):
        path = checkpoints[which]
        with ttckpt.TTCFile(path) as f:
            assert f.version == (1, 1) and f.digests is not None
            for e, d in zip(f.entries, f.digests):
                assert d == hashlib.sha256(f.load_tensor(e.name).astype("<f4").tobytes()).digest(), e.name
            digest = f.stored_model_digest()
        out = tmp_path / f"{which}.safetensors"
        run("export", path, out, "--include-optimizer")
        assert ttckpt.safetensors_model_digest(load_file(str(out))) == digest
    old = REPO / "Tests" / "Fixtures" / "compat" / "format-1.0" / "tutorial-init.ttc"
    with ttckpt.TTCFile(old) as f, ttckpt.TTCFile(REPO / "samples" / "tutorial-init.ttc") as g:
        assert f.digests is None and f.model_digest() == g.stored_model_digest()

    # Rewrite lm_head with other values and every CRC right; only the SHA-256 differs.
    src = checkpoints["trained"]
    with ttckpt.TTCFile(src) as f:
        lm = f.load_tensor("lm_head")
    raw = (lm + np.float32(1)).astype("<f4").tobytes()
    blob = zlib.compress(raw, 6)
    data = src.read_bytes()

    def edit(rows):
        i = next(i for i, r in enumerate(rows) if r["name"] == "lm_head")
        rows[i].update(stored_length=len(blob), raw_crc32=zlib.crc32(raw), stored_crc32=zlib.crc32(blob),
                       codes=(0, 1, 0))
    rewritten = bytearray(rebuilt(src, edit_entries=edit))
    with ttckpt.TTCFile(src) as f:
        e = f._by_name["lm_head"]
        old_blob = data[e.offset:e.offset + e.stored_length]
    at = bytes(rewritten).index(old_blob)
    rewritten[at:at + len(old_blob)] = blob
    path = tmp_path / "rewritten.ttc"
    path.write_bytes(bytes(rewritten))
    with ttckpt.TTCFile(path) as f:
        assert np.array_equal(f.load_tensor("lm_head"), lm + np.float32(1))  # every CRC agrees
        with pytest.raises(ttckpt.FormatError) as err:
            f.verify()
        assert err.value.kind == "rawDigest" and "tensor 'lm_head': SHA-256 mismatch" in err.value.message


def test_inflate_in_the_spec_is_the_readers():
    """ttckpt.format.inflate_exact is §6's Python, kind for kind (the Swift side runs the
    spec's text itself: SpecConsistencyTests)."""
    raw = bytes((i * 37) & 0xFF for i in range(3000))
    good = zlib.compress(raw, 6)

    def kind(blob, n=len(raw)):
        try:
            ttf.inflate_exact(blob, n, lambda k, m: (_ for _ in ()).throw(ttckpt.FormatError("b", k, m)))
            return "ok"
        except ttckpt.FormatError as e:
            return e.kind
    longer = zlib.compress(raw + b"\x07", 6)
    assert kind(good) == "ok"
    assert kind(good[:-4]) == "inflateTooShort" and kind(good[:-3]) == "inflateTooShort"
    assert kind(good + b"\x00") == "corruptStream"
    assert kind(longer) == "inflateTooLong"
    assert kind(longer[:-1] + bytes([longer[-1] ^ 1])) == "corruptStream"  # raw + 1 bytes, then a bad Adler-32


def test_gpt2_and_trace_files_read_and_rewrite_byte_for_byte(checkpoints, tmp_path):
    """A gpt2 checkpoint (§5's gpt2 table) and a trace of it (§4.1: roles 4–7, trace.* keys):
    Python reads them with every check and writes back the same bytes as tt-ckpt."""
    g2, tr = tmp_path / "g2.ttc", tmp_path / "trace.ttc"
    run("init", g2, "--arch", "gpt2")
    run("train", g2, "--steps", 2, "--quiet")
    run("trace", g2, "-o", tr)
    for path in (g2, tr):
        ckpt = ttckpt.read(path)
        with ttckpt.TTCFile(path) as f:
            f.verify()
        assert ttckpt.encode(ckpt) == path.read_bytes(), path.name
    g = ttckpt.read(g2)
    assert [t.name for t in g.tensors if t.role == "parameter"] == [n for n, _ in g.config.canonical_tensors()]
    assert "lm_head" not in {t.name for t in g.tensors} and g.config.parameter_count() == sum(
        t.values.size for t in g.tensors if t.role == "parameter")
    t = ttckpt.read(tr)
    assert t.trace is not None and t.trace.step == g.training.step + 1
    assert {x.role for x in t.tensors} == {"activation", "activation_grad", "gradient", "update", "other"}


def test_bpe_vocabulary_reads_checks_and_rewrites(tmp_path):
    """A byte-level BPE vocabulary (§3.4) learned by tt-ckpt: Python reads its merges and
    added tokens, checks §3.4's rules, and writes the same bytes; a merge whose result is no
    token is refused by both."""
    path = tmp_path / "bpe.ttc"
    run("init", path, "--arch", "gpt2", "--tokenizer", "bpe", "--vocab-size", 300, "--data", REPO / "samples" / "corpus.txt")
    ckpt = ttckpt.read(path)
    b = ckpt.vocab.bpe
    assert ckpt.vocab.kind == "bpe" and b is not None and b.pre_tokenizer == "gpt2" and b.merges
    assert ttckpt.encode(ckpt) == path.read_bytes()
    # Merge 0 joins two tokens; point its right id at a token that makes no vocabulary entry.
    merges = list(b.merges)
    single = [i for i, t in enumerate(ckpt.vocab.tokens) if len(t) == 1 and i not in b.added_ids]
    merges[1] = next(i for i in single if
                     (ckpt.vocab.tokens[merges[0]] + ckpt.vocab.tokens[i]) not in ckpt.vocab.tokens)
    bad = tmp_path / "bad-merge.ttc"
    bad.write_bytes(rebuilt(path, edit_items=lambda m: m.__setitem__("vocab.merges", ("array<u32>", np.asarray(merges, np.uint32)))))
    err = python_error(bad.read_bytes())
    assert err.kind == "invalidValue" and "'vocab.merges'" in err.message
    assert_trouble(run("inspect", bad, check=False), "metadata key 'vocab.merges'")
