"""Read tt-ckpt ``.ttc`` checkpoints with numpy alone.

Written from spec/FORMAT.md (format 1.x), independently of the Swift reader. Every rule
of the spec is checked: preamble and header CRC-32s, section framing, the tensor
directory (sizes, expansion cap, blob placement, no trailing bytes), the typed metadata
and its value ranges, the set of tensors the config requires, and, per tensor, the stored
CRC-32, an exact-length zlib inflate with nothing after the stream, and the raw CRC-32.

    import ttc
    metadata, tensors = ttc.load("run.ttc")       # everything, all CRCs verified
    metadata["model.d_model"], tensors["tok_emb"].shape

    f = ttc.TTCFile("run.ttc")                    # header and directory only
    f.entries[0].name, f.load_tensor("lm_head")   # inflate one tensor

Errors raise ``ttc.FormatError`` with ``path``, ``kind`` (the spec's error kind, §10) and a
one-line ``message``. Run ``python3 ttc.py FILE`` for a summary.
"""
import struct
import sys
import zlib
from collections import namedtuple

import numpy as np

__all__ = ["FormatError", "TensorEntry", "TTCFile", "load", "canonical_tensors"]

MAGIC = b"\x89TTC\r\n\x1a\n"
MAJOR = 1
MAX_HEADER = 256 * 1024 * 1024
MAX_META_ITEMS = 65536
MAX_KEY = 256
MAX_STRING = 1024 * 1024
MAX_TENSORS = 1024 * 1024
MAX_NAME = 1024
MAX_RANK = 8
MAX_EXPANSION = 1032
U63 = 2 ** 63 - 1
TAG_META = 0x4154454D
TAG_TDIR = 0x52494454
ROLES = {0: "parameter", 1: "adam_m", 2: "adam_v", 3: "other"}
DTYPES = {0: ("f32", 4)}
FILTERS = {0: "none", 1: "shuffle"}
COMPRESSIONS = {1: "zlib"}
# Value types (§3): name, fixed size (None for strings).
VALUE_TYPES = {0: ("u32", 4), 1: ("i64", 8), 2: ("u64", 8), 3: ("f32", 4), 4: ("f64", 8),
               5: ("bool", 1), 6: ("string", None), 7: ("array", None)}
MIN_ELEMENT = {0: 4, 1: 8, 2: 8, 3: 4, 4: 8, 5: 1, 6: 4}
NUMPY_ELEMENT = {0: "<u4", 1: "<i8", 2: "<u8", 3: "<f4", 4: "<f8"}

TensorEntry = namedtuple("TensorEntry", "name role dtype compression filter shape offset "
                                        "stored_length raw_length raw_crc32 stored_crc32")
TensorEntry.__doc__ = "One directory entry (§4); role, dtype, compression, filter as labels."


class FormatError(Exception):
    """A file that breaks a rule of spec/FORMAT.md. ``str(e)`` is ``PATH: message``."""

    def __init__(self, path, kind, message):
        super().__init__(f"{path}: {message}")
        self.path, self.kind, self.message = path, kind, message


def _quote(name):
    """A name from the file, quoted, with control characters escaped (one line)."""
    out = []
    for ch in name:
        o = ord(ch)
        out.append(f"\\u{{{o:x}}}" if o < 0x20 or 0x7F <= o <= 0x9F else ch)
    return "'" + "".join(out) + "'"


class _Cursor:
    """Reads little-endian fields from a bytes payload; running past the end raises."""

    def __init__(self, data, fail):
        self.data, self.pos, self.fail = data, 0, fail

    @property
    def left(self):
        return len(self.data) - self.pos

    def take(self, n, what):
        if n > self.left:
            self.fail(f"{what} runs past the end")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self, what):
        return self.take(1, what)[0]

    def u32(self, what):
        return struct.unpack("<I", self.take(4, what))[0]

    def u64(self, what):
        return struct.unpack("<Q", self.take(8, what))[0]

    def string(self, what, max_len, min_len=0):
        n = self.u32(what)
        if n < min_len or n > max_len:
            self.fail(f"{what}: length {n} is outside {min_len}...{max_len}")
        raw = self.take(n, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.fail(f"{what}: not valid UTF-8")


def canonical_tensors(arch, V, D, H, F, L, T):
    """The canonical (name, shape) list of §5, in canonical order."""
    dk = D // H
    out = [("tok_emb", (V, D)), ("pos_emb", (T, D))]
    for i in range(L):
        p = f"layers.{i}."
        if arch == "gpt":
            out += [(p + "ln1.gamma", (D,)), (p + "ln1.beta", (D,))]
        out += [(p + "attn.wq", (H, D, dk)), (p + "attn.wk", (H, D, dk)), (p + "attn.wv", (H, D, dk)),
                (p + "attn.wo", (D, D))]
        if arch == "gpt":
            out += [(p + "ln2.gamma", (D,)), (p + "ln2.beta", (D,))]
        out += [(p + "ffn.w1", (F, D)), (p + "ffn.b1", (F,)), (p + "ffn.w2", (D, F)), (p + "ffn.b2", (D,))]
        if arch == "tutorial":
            out += [(p + "ln.gamma", (D,)), (p + "ln.beta", (D,))]
    if arch == "gpt":
        out += [("ln_f.gamma", (D,)), ("ln_f.beta", (D,))]
    out.append(("lm_head", (V, D)))
    return out


class TTCFile:
    """An open .ttc file: preamble, header, directory and metadata read and validated.
    Tensors are inflated only by ``load_tensor`` / ``load_all``."""

    def __init__(self, path):
        self.path = str(path)
        try:
            self._file = open(self.path, "rb")
            self._file.seek(0, 2)
            self.file_size = self._file.tell()
        except OSError as e:
            raise FormatError(self.path, "io", e.strerror or str(e)) from None
        try:
            self._read_structure()
        except BaseException:
            self._file.close()
            raise

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fail(self, kind, message):
        raise FormatError(self.path, kind, message)

    def _read_at(self, offset, n):
        self._file.seek(offset)
        data = self._file.read(n)
        if len(data) != n:
            self._fail("io", f"short read of {n} bytes at {offset}")
        return data

    # §1 and §2 -------------------------------------------------------------------------
    def _read_structure(self):
        head = self._read_at(0, min(32, self.file_size))
        if head[:8] != MAGIC[:len(head[:8])]:  # only the bytes present (§1)
            self._fail("notTTC", "not a .ttc file (bad magic)")
        if len(head) < 32:
            self._fail("truncated", f"{self.file_size} bytes, shorter than the 32-byte preamble")
        major, minor, reserved, header_length, header_crc, preamble_crc = struct.unpack("<HHIQII", head[8:32])
        if major != MAJOR:
            self._fail("unsupportedVersion", f"format version {major}.{minor} is not supported "
                                             f"(this reader reads major version {MAJOR} only)")
        if zlib.crc32(head[:28]) != preamble_crc:
            self._fail("preambleCRC", "preamble CRC-32 mismatch")
        if reserved != 0:
            self._fail("reservedField", f"reserved preamble field is {reserved}, not 0")
        if header_length > MAX_HEADER:
            self._fail("headerTooLarge", f"header length {header_length} is more than {MAX_HEADER}")
        if header_length > self.file_size - 32:
            self._fail("headerOutOfFile", f"header length {header_length} runs past the end of the file")
        header = self._read_at(32, header_length)
        if zlib.crc32(header) != header_crc:
            self._fail("headerCRC", "header CRC-32 mismatch")
        self.version = (major, minor)
        self.header_length = header_length

        sections = {}
        pos = 0
        while pos < header_length:
            if header_length - pos < 12:
                self._fail("malformedSection", f"{header_length - pos} bytes left at header offset {pos}, "
                                               f"too few for a section header")
            tag, length = struct.unpack("<IQ", header[pos:pos + 12])
            pos += 12
            if length > header_length - pos:
                self._fail("malformedSection", f"section at header offset {pos - 12} runs past the header")
            if tag in (TAG_META, TAG_TDIR):
                if tag in sections:
                    self._fail("duplicateSection", f"section {struct.pack('<I', tag).decode()} appears twice")
                sections[tag] = header[pos:pos + length]
            pos += length
        for tag in (TAG_META, TAG_TDIR):
            if tag not in sections:
                self._fail("missingSection", f"no {struct.pack('<I', tag).decode()} section")

        # The spec's check order: directory entries, META structure, metadata values, tensor set.
        self.entries = self._read_directory(sections[TAG_TDIR])
        self._by_name = {e.name: e for e in self.entries}
        raw_meta = self._read_metadata(sections[TAG_META])
        self.metadata = raw_meta
        self._check_metadata_values(raw_meta)
        self._check_tensor_set()

    # §4 --------------------------------------------------------------------------------
    def _read_directory(self, payload):
        def bad(message):
            self._fail("malformedDirectory", message)
        c = _Cursor(payload, bad)
        count = c.u64("tensor count")
        if count > MAX_TENSORS:
            self._fail("tooManyTensors", f"{count} tensors is more than {MAX_TENSORS}")
        if count > (len(payload) - 8) // 41:
            bad(f"tensor count {count} does not fit the directory")
        entries, names = [], set()
        expected_offset = 32 + self.header_length
        for index in range(count):
            name_len = c.u32(f"entry {index} name")
            if name_len < 1 or name_len > MAX_NAME:
                self._fail("badName", f"entry {index}: name length {name_len} is outside 1...{MAX_NAME}")
            try:
                name = c.take(name_len, f"entry {index} name").decode("utf-8")
            except UnicodeDecodeError:
                self._fail("badName", f"entry {index}: name is not valid UTF-8")
            q = f"tensor {_quote(name)}"
            if name in names:
                self._fail("duplicateName", f"{q} appears twice")
            names.add(name)
            role, dtype, compression, filt, rank = c.take(5, f"{q} fields")
            if role not in ROLES:
                self._fail("badRole", f"{q}: role {role} is not 0...3")
            if dtype not in DTYPES:
                self._fail("badDType", f"{q}: dtype {dtype} is unknown")
            if compression not in COMPRESSIONS:
                self._fail("badCompression", f"{q}: compression {compression} is unknown")
            if filt not in FILTERS:
                self._fail("badFilter", f"{q}: filter {filt} is unknown")
            if rank > MAX_RANK:
                self._fail("badRank", f"{q}: rank {rank} is more than {MAX_RANK}")
            shape = tuple(c.u64(f"{q} shape") for _ in range(rank))
            if any(d < 1 for d in shape):
                self._fail("badDimension", f"{q}: shape {list(shape)} has a zero dimension")
            offset, stored, raw = c.u64(f"{q} offset"), c.u64(f"{q} stored_length"), c.u64(f"{q} raw_length")
            raw_crc, stored_crc = c.u32(f"{q} raw_crc32"), c.u32(f"{q} stored_crc32")
            size = DTYPES[dtype][1]
            for d in shape:
                size *= d  # Python ints do not overflow; the spec's bound is 2^62.
            if size >= 2 ** 62:
                self._fail("sizeOverflow", f"{q}: shape {list(shape)} is too large")
            if raw != size:
                self._fail("rawLengthMismatch", f"{q}: raw_length {raw}, but shape {list(shape)} needs {size}")
            if raw > MAX_EXPANSION * stored:
                self._fail("expansionRatio", f"{q}: raw_length {raw} is more than {MAX_EXPANSION} × stored_length {stored}")
            if offset + stored > self.file_size:
                self._fail("blobOutOfFile", f"{q}: blob [{offset}, {offset + stored}) runs past the end of the file")
            if offset != expected_offset:
                self._fail("blobPlacement", f"{q}: blob at {offset}, expected {expected_offset}")
            expected_offset = offset + stored
            entries.append(TensorEntry(name, ROLES[role], DTYPES[dtype][0], COMPRESSIONS[compression],
                                       FILTERS[filt], shape, offset, stored, raw, raw_crc, stored_crc))
        if c.left != 0:
            bad(f"{c.left} unused bytes after the last entry")
        if expected_offset != self.file_size:
            self._fail("trailingBytes", f"{self.file_size - expected_offset} bytes after the last blob")
        return entries

    # §3 --------------------------------------------------------------------------------
    def _read_metadata(self, payload):
        def bad(message):
            self._fail("malformedMetadata", message)
        c = _Cursor(payload, bad)
        count = c.u64("metadata count")
        if count > MAX_META_ITEMS or count > (len(payload) - 8) // 7:
            bad(f"metadata count {count} is too large")
        items, previous = {}, None
        for _ in range(count):
            key = c.string("metadata key", MAX_KEY, 1)
            kb = key.encode("utf-8")
            if previous is not None and not previous < kb:
                bad(f"metadata key {_quote(key)} is not after {_quote(previous.decode())} in byte order")
            previous = kb
            vtype = c.u8(f"metadata key {_quote(key)} type")
            if vtype not in VALUE_TYPES:
                bad(f"metadata key {_quote(key)}: unknown type {vtype}")
            items[key] = (VALUE_TYPES[vtype][0], self._read_value(c, vtype, key, bad))
        if c.left != 0:
            bad(f"{c.left} unused bytes after the last metadata item")
        return items

    def _read_value(self, c, vtype, key, bad, element=False):
        what = f"metadata key {_quote(key)}"
        if vtype in NUMPY_ELEMENT:
            n = VALUE_TYPES[vtype][1]
            return np.frombuffer(c.take(n, what), NUMPY_ELEMENT[vtype])[0].item()
        if vtype == 5:
            b = c.u8(what)
            if b > 1:
                bad(f"{what}: bool byte {b} is not 0 or 1")
            return bool(b)
        if vtype == 6:
            return c.string(what, MAX_STRING)
        if element:
            bad(f"{what}: nested arrays are not allowed")
        etype = c.u8(what)
        if etype not in MIN_ELEMENT:
            bad(f"{what}: array element type {etype} is not 0...6")
        count = c.u64(what)
        if count * MIN_ELEMENT[etype] > c.left:
            bad(f"{what}: {count} elements do not fit the payload")
        if etype in NUMPY_ELEMENT:
            size = VALUE_TYPES[etype][1]
            return np.frombuffer(c.take(count * size, what), NUMPY_ELEMENT[etype]).copy()
        return [self._read_value(c, etype, key, bad, element=True) for _ in range(count)]

    def _check_metadata_values(self, items):
        def get(key, vtype, required=True):
            if key not in items:
                if required:
                    self._fail("missingKey", f"metadata key '{key}' is missing")
                return None
            have, value = items[key]
            if vtype.startswith("array<"):
                want = vtype[6:-1]
                ok = have == "array" and (
                    (isinstance(value, np.ndarray) and value.dtype == np.dtype(NUMPY_ELEMENT[
                        {"u32": 0, "i64": 1, "u64": 2, "f32": 3, "f64": 4}[want]]))
                    if want in ("u32", "i64", "u64", "f32", "f64") else
                    (isinstance(value, list) and all(isinstance(v, {"string": str, "bool": bool}[want]) for v in value)))
                if not ok:
                    self._fail("wrongType", f"metadata key '{key}': type {have}, expected {vtype}")
            elif have != vtype:
                self._fail("wrongType", f"metadata key '{key}': type {have}, expected {vtype}")
            return value

        def invalid(key, message):
            self._fail("invalidValue", f"metadata key '{key}': {message}")

        def in_range(key, value, lo, hi):
            if not lo <= value <= hi:
                invalid(key, f"{value} is outside {lo}...{hi}")

        get("format.tool_version", "string")
        arch = get("model.arch", "string")
        if arch not in ("tutorial", "gpt"):
            invalid("model.arch", f"{arch!r} is not tutorial or gpt")
        limits = {"model.vocab_size": 1 << 20, "model.d_model": 1 << 14, "model.n_heads": 1 << 10,
                  "model.d_ff": 1 << 16, "model.n_layers": 1 << 10, "model.context": 1 << 16}
        dims = {}
        for key, hi in limits.items():
            dims[key] = get(key, "u64")
            in_range(key, dims[key], 1, hi)
        V, D, H = dims["model.vocab_size"], dims["model.d_model"], dims["model.n_heads"]
        F, L, T = dims["model.d_ff"], dims["model.n_layers"], dims["model.context"]
        if D % H:
            invalid("model.n_heads", f"{H} heads do not divide d_model {D}")
        count = sum(int(np.prod(s)) for _, s in canonical_tensors(arch, V, D, H, F, L, T))
        if count > 2 ** 31:
            invalid("model.vocab_size", f"{count} parameters is more than 2^31")
        self.config = dict(arch=arch, vocab_size=V, d_model=D, n_heads=H, d_ff=F, n_layers=L, context=T)

        def finite(key, lo, hi, lo_open=False, hi_open=False):
            v = get(key, "f64")
            ok = np.isfinite(v) and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
            if not ok:
                invalid(key, f"{v} is out of range")
            return v
        finite("optim.beta1", 0, 1, hi_open=True)
        finite("optim.beta2", 0, 1, hi_open=True)
        finite("optim.epsilon", 0, 1, lo_open=True, hi_open=True)
        finite("optim.grad_clip", 0, float("inf"), hi_open=True)
        lr = finite("optim.lr", 0, 10, lo_open=True)
        finite("optim.min_lr_ratio", 0, 1)
        wd = finite("optim.weight_decay", 0, float("inf"), hi_open=True)
        if not lr * wd < 1:
            invalid("optim.weight_decay", "lr × weight_decay must be below 1")
        if get("optim.schedule", "string") not in ("constant", "cosine"):
            invalid("optim.schedule", "not constant or cosine")
        get("optim.exempt_norm_and_bias", "bool")
        for key in ("optim.decay_steps", "optim.warmup_steps", "train.step", "train.tokens_seen"):
            in_range(key, get(key, "u64"), 0, U63)
        gauss = get("rng.gauss_next", "f64", required=False)
        if gauss is not None and not np.isfinite(gauss):
            invalid("rng.gauss_next", f"{gauss} is not finite")
        in_range("rng.index", get("rng.index", "u64"), 0, 624)
        words = get("rng.words", "array<u32>")
        if len(words) != 624:
            invalid("rng.words", f"{len(words)} words, expected 624")
        if not words.any():
            invalid("rng.words", "all words are zero")
        if get("train.batch_size", "u64") < 1:
            invalid("train.batch_size", "must be at least 1")
        get("train.seed", "u64")
        get("train.windows_drawn", "u64")
        step = get("train.step", "u64")
        if len(get("train.loss_history", "array<f32>")) != step:
            invalid("train.loss_history", f"entries ≠ train.step {step}")
        starts = get("train.session_starts", "array<u64>")
        if any(b < a for a, b in zip(starts, starts[1:])) or any(s > step for s in starts):
            invalid("train.session_starts", "not non-decreasing within 0...train.step")
        if get("vocab.kind", "string") not in ("word", "char", "byte"):
            invalid("vocab.kind", "not word, char or byte")
        if len(get("vocab.tokens", "array<string>")) != V:
            invalid("vocab.tokens", f"count is not model.vocab_size {V}")
        data_keys = [("data.byte_count", "u64"), ("data.name", "string"), ("data.sha256", "string"),
                     ("data.token_count", "u64")]
        present = [k for k, _ in data_keys if k in items]
        if present:
            for key, vtype in data_keys:
                get(key, vtype)
            sha = items["data.sha256"][1]
            if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha):
                invalid("data.sha256", "not 64 lowercase hex digits")
            in_range("data.byte_count", items["data.byte_count"][1], 0, U63)
            in_range("data.token_count", items["data.token_count"][1], 0, U63)

    def _check_tensor_set(self):
        c = self.config
        expected = {}
        for name, shape in canonical_tensors(c["arch"], c["vocab_size"], c["d_model"], c["n_heads"],
                                             c["d_ff"], c["n_layers"], c["context"]):
            for prefix, role in (("", "parameter"), ("adam_m.", "adam_m"), ("adam_v.", "adam_v")):
                expected[prefix + name] = (role, shape)
        for e in self.entries:
            q = f"tensor {_quote(e.name)}"
            if e.name in expected:
                role, shape = expected[e.name]
                if e.role != role:
                    self._fail("unexpectedTensor", f"{q} has role {e.role}, expected {role}")
                if e.shape != shape:
                    self._fail("tensorShape", f"{q} has shape {list(e.shape)}, expected {list(shape)}")
            elif e.role != "other" or e.name.startswith(("adam_m.", "adam_v.")):
                self._fail("unexpectedTensor", f"{q} (role {e.role}) is not a canonical tensor")
        for name in expected:
            if name not in self._by_name:
                self._fail("missingTensor", f"tensor {_quote(name)} is missing")

    # §6 --------------------------------------------------------------------------------
    def load_tensor(self, name):
        """One tensor as a float32 array of its shape (a 0-d array for rank 0), after the
        stored CRC, exact inflate and raw CRC checks."""
        e = self._by_name.get(name)
        if e is None:
            raise KeyError(name)
        q = f"tensor {_quote(name)}"
        blob = self._read_at(e.offset, e.stored_length)
        if zlib.crc32(blob) != e.stored_crc32:
            self._fail("storedCRC", f"{q}: stored CRC-32 mismatch")
        d = zlib.decompressobj()
        try:
            filtered = d.decompress(blob, e.raw_length + 1)
            if len(filtered) <= e.raw_length and not d.eof:
                filtered += d.decompress(d.unconsumed_tail, e.raw_length + 1 - len(filtered))
        except zlib.error as err:
            self._fail("corruptStream", f"{q}: zlib: {err}")
        if len(filtered) > e.raw_length:
            self._fail("inflateTooLong", f"{q}: inflates to more than raw_length {e.raw_length}")
        if not d.eof:
            self._fail("inflateTooShort", f"{q}: the zlib stream ends early ({len(filtered)} of {e.raw_length} bytes)")
        if d.unused_data:
            self._fail("corruptStream", f"{q}: {len(d.unused_data)} bytes after the end of the zlib stream")
        if len(filtered) != e.raw_length:
            self._fail("inflateTooShort", f"{q}: inflated {len(filtered)} of {e.raw_length} bytes")
        size = 4
        n = e.raw_length // size
        if e.filter == "shuffle":
            raw = np.frombuffer(filtered, np.uint8).reshape(size, n).T.tobytes()
        else:
            raw = filtered
        if zlib.crc32(raw) != e.raw_crc32:
            self._fail("rawCRC", f"{q}: raw CRC-32 mismatch")
        return np.frombuffer(raw, "<f4").astype(np.float32).reshape(e.shape)

    def load_all(self):
        """Every tensor, in directory order, as {name: array}."""
        return {e.name: self.load_tensor(e.name) for e in self.entries}

    def values(self):
        """The metadata without type tags: {key: value}."""
        return {k: v for k, (_, v) in self.metadata.items()}


def load(path):
    """Reads a whole .ttc file: returns (metadata, tensors), metadata as {key: value}
    (numeric arrays as numpy arrays, string and bool arrays as lists), tensors as
    {name: float32 array}. Every check of the spec runs; a failure raises FormatError."""
    with TTCFile(path) as f:
        return f.values(), f.load_all()


def _main(argv):
    if len(argv) != 2:
        print("usage: python3 ttc.py FILE.ttc", file=sys.stderr)
        return 2
    try:
        with TTCFile(argv[1]) as f:
            tensors = f.load_all()
            meta = f.values()
    except FormatError as e:
        print(f"ttc.py: {e}", file=sys.stderr)
        return 2
    print(f"{argv[1]}: format {f.version[0]}.{f.version[1]}, {meta['model.arch']}, "
          f"{len(tensors)} tensors, step {meta['train.step']}, all CRCs ok")
    for e in f.entries:
        print(f"  {e.name:<28} {e.role:<9} {str(list(e.shape)):<14} {e.filter:<7} {e.stored_length:>10} / {e.raw_length}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
