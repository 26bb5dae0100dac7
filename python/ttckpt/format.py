"""Read and write tt-ckpt ``.ttc`` checkpoints with numpy alone (spec/FORMAT.md, format 1.1;
every 1.x file reads).

Written from the spec, independently of the Swift code, except the byte-plane encoder: a
port of Sources/CBlobCodec/blobcodec.c, whose every rule §8 states. The reader checks every
rule of the spec in the spec's order (§10): preamble and header CRC-32s, section framing
(critical and ancillary sections), the tensor directory (sizes, expansion cap, blob
placement, no trailing bytes; unknown dtype/compression/filter codes kept), the ``hash``
section, the typed metadata and its value ranges (the float32 rule, the content rules of
§3.3, BPE vocabularies, trace keys), the set of tensors the config requires (or a trace's),
and, per tensor, the stored CRC-32, an exact-length zlib inflate with nothing after the
stream, the raw CRC-32 and, when verifying, the SHA-256. The writer runs the same semantic
checks before it writes anything and replaces the target atomically. ``model_digest``
computes §4.3's model digest.

    from ttckpt import format as ttc
    ckpt = ttc.read("run.ttc")                    # everything, all CRCs verified
    ckpt.config.d_model, ckpt.training.step, ckpt.tensor("tok_emb").shape
    ttc.write(ckpt, "copy.ttc")                   # what `tt-ckpt inspect --verify` accepts

    with ttc.TTCFile("run.ttc") as f:             # header and directory only
        f.entries[0].name, f.load_tensor("lm_head")

Every problem with a file raises ``FormatError`` (``path``, ``kind`` = the spec's error kind,
§10, and a one-line ``message`` naming the field or tensor); ``str(e)`` is ``PATH: message``.

Bytes written: metadata keys in byte order, tensors in the given order, each blob in
tt-ckpt's default ``fast`` encoding (§8's byte-plane encoder: per byte plane, stored
blocks, one Huffman block of literals, or one of literals and runs, whichever is smallest;
the filter by the spec's rule), so ``encode(read(f))`` is ``f``'s bytes for a file tt-ckpt
wrote with its defaults, on any machine: this encoder writes every bit itself.
``compression="none"`` writes the stored blocks of ``tt-ckpt train --compression none``;
``compression="zlib"`` deflates with zlib (level 1 and Z_RLE unless told otherwise): the
bytes of tt-ckpt's zlib encoding (Tests/Fixtures/compat/format-1.1-zlib) with the same zlib
library (another zlib build may produce other, equally valid streams). tt-ckpt's ``small``
encoding is not written here. A reader cannot tell the encodings apart.
"""
import dataclasses
import hashlib
import math
import os
import random
import secrets
import stat
import struct
import zlib
from collections import namedtuple
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

__all__ = ["FormatError", "TensorEntry", "TTCFile", "load", "read", "write", "encode", "canonical_tensors",
           "is_norm_or_bias", "ModelConfig", "Vocabulary", "BPEData", "OptimizerSettings", "GeneratorState",
           "DataIdentity", "TrainingState", "TraceInfo", "Tensor", "Checkpoint", "PYTHON_TOOL_VERSION",
           "model_digest", "safetensors_model_digest", "check_vocabulary", "check_progress", "inflate_exact"]

MAGIC = b"\x89TTC\r\n\x1a\n"
MAJOR = 1
MINOR = 1
PYTHON_TOOL_VERSION = "ttckpt-python 0.1.0"
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
TAG_HASH = 0x68736168  # "hash": per-tensor SHA-256, ancillary (§4.2)
ROLES = {0: "parameter", 1: "adam_m", 2: "adam_v", 3: "other",
         4: "activation", 5: "activation_grad", 6: "gradient", 7: "update"}
ROLE_CODES = {v: k for k, v in ROLES.items()}
ROLE_PREFIX = {"parameter": "", "adam_m": "adam_m.", "adam_v": "adam_v.", "other": "",
               "activation": "act.", "activation_grad": "grad.", "gradient": "", "update": "update."}
TRACE_ROLES = ("activation", "activation_grad", "gradient", "update")
DTYPES = {0: ("f32", 4)}
FILTERS = {0: "none", 1: "shuffle"}
FILTER_CODES = {v: k for k, v in FILTERS.items()}
COMPRESSIONS = {1: "zlib"}
# Value types (§3): code -> name; fixed sizes of the scalar ones.
TYPE_NAMES = {0: "u32", 1: "i64", 2: "u64", 3: "f32", 4: "f64", 5: "bool", 6: "string", 7: "array"}
TYPE_CODES = {v: k for k, v in TYPE_NAMES.items()}
MIN_ELEMENT = {0: 4, 1: 8, 2: 8, 3: 4, 4: 8, 5: 1, 6: 4}
NUMPY_ELEMENT = {0: "<u4", 1: "<i8", 2: "<u8", 3: "<f4", 4: "<f8"}
SCALAR_FORMAT = {0: "<I", 1: "<q", 2: "<Q", 3: "<f", 4: "<d"}
ARCHS = ("tutorial", "gpt", "gpt2")
SCHEDULES = ("constant", "cosine")
VOCAB_KINDS = ("word", "char", "byte", "bpe")
MAX_BATCH = 65536  # §3.3: train.batch_size cap, and the per-step bound of train.tokens_seen
MAX_TOKEN_BYTES = 1 << 20
F32_MIN_NORMAL = float(np.finfo(np.float32).tiny)  # 2^-126
DIGEST_DOMAIN = b"ttc-model-digest-1\n"
BPE_KEYS = ("vocab.bpe.add_prefix_space", "vocab.bpe.added_flags", "vocab.bpe.added_ids",
            "vocab.bpe.ignore_merges", "vocab.bpe.pre_tokenizer", "vocab.merges")
TRACE_KEYS = {"trace.batch_size": "u64", "trace.grad_norm": "f64", "trace.learning_rate": "f64", "trace.loss": "f64",
              "trace.seq_len": "u64", "trace.step": "u64", "trace.target_count": "u64"}
MODEL_LIMITS = {"model.vocab_size": 1 << 20, "model.d_model": 1 << 14, "model.n_heads": 1 << 10,
                "model.d_ff": 1 << 16, "model.n_layers": 1 << 10, "model.context": 1 << 16}
MAX_PARAMETERS = 1 << 31
# Writer rules (§8).
DEFAULT_LEVEL = 1
DEFAULT_STRATEGY = zlib.Z_RLE
EXACT_CHOICE_LIMIT = 16384
SAMPLE_CHUNKS = 4
SAMPLE_CHUNK_ELEMENTS = 1024

TensorEntry = namedtuple("TensorEntry", "name role dtype compression filter shape offset "
                                        "stored_length raw_length raw_crc32 stored_crc32 codes")
TensorEntry.__doc__ = ("One directory entry (§4); role, dtype, compression, filter as labels (\"dtype 9\" for a "
                       "code this reader does not know); codes = (dtype, compression, filter) bytes.")


class FormatError(Exception):
    """A file that breaks a rule of spec/FORMAT.md, or a checkpoint the writer will not
    write. ``str(e)`` is ``PATH: message``; ``kind`` is the spec's error kind (§10)."""

    def __init__(self, path, kind, message):
        super().__init__(f"{path}: {message}")
        self.path, self.kind, self.message = str(path), kind, message


def _quote(name):
    """A name from the file, quoted, with control characters escaped (one line)."""
    out = []
    for ch in name:
        o = ord(ch)
        out.append(f"\\u{{{o:x}}}" if o < 0x20 or 0x7F <= o <= 0x9F or 0x202A <= o <= 0x202E
                   or 0x2066 <= o <= 0x2069 else ch)
    return "'" + "".join(out) + "'"


# ----------------------------------------------------------------------------------------
# The values a checkpoint holds


@dataclass
class ModelConfig:
    """The ``model.*`` keys. Letters of spec §5: V, D, H, F, L, T."""
    arch: str
    vocab_size: int
    d_model: int
    n_heads: int
    d_ff: int
    n_layers: int
    context: int

    @property
    def head_dim(self):
        return self.d_model // self.n_heads

    def canonical_tensors(self):
        return canonical_tensors(self.arch, self.vocab_size, self.d_model, self.n_heads, self.d_ff,
                                 self.n_layers, self.context)

    def parameter_count(self):
        return sum(int(np.prod(s)) for _, s in self.canonical_tensors())


@dataclass
class BPEData:
    """A ``bpe`` vocabulary's merges and settings (§3.4): ``vocab.merges`` (two ids per
    merge, rank order) and the ``vocab.bpe.*`` keys."""
    merges: List[int]
    added_ids: List[int] = field(default_factory=list)
    added_flags: List[int] = field(default_factory=list)
    pre_tokenizer: str = "gpt2"
    add_prefix_space: bool = False
    ignore_merges: bool = False


@dataclass
class Vocabulary:
    """``vocab.kind`` (word, char, byte, bpe) and ``vocab.tokens`` (id = index); ``bpe`` for
    a bpe vocabulary."""
    kind: str
    tokens: List[str]
    bpe: Optional[BPEData] = None

    @property
    def pad_id(self):
        return self.tokens.index("<PAD>") if "<PAD>" in self.tokens else None


@dataclass
class OptimizerSettings:
    """The ``optim.*`` keys: AdamW and its learning-rate schedule."""
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    weight_decay: float = 0.01
    exempt_norm_and_bias: bool = False
    grad_clip: float = 0.0
    schedule: str = "constant"
    warmup_steps: int = 0
    decay_steps: int = 0
    min_lr_ratio: float = 0.1

    def lr_at(self, t):
        """The learning rate of optimizer step ``t`` (1-based), computed in double exactly as
        tt-ckpt's ``AdamWConfig.learningRate(atStep:)``: linear warmup lr·t/warmup for
        t ≤ warmup, then constant, or cosine from lr down to lr·min_lr_ratio at decay_steps."""
        if self.warmup_steps > 0 and t <= self.warmup_steps:
            return self.lr * float(t) / float(self.warmup_steps)
        if self.schedule == "constant":
            return self.lr
        span = self.decay_steps - self.warmup_steps
        if span <= 0:
            return self.lr
        progress = min(1.0, float(t - self.warmup_steps) / float(span))
        floor = self.lr * self.min_lr_ratio
        return floor + (self.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass
class GeneratorState:
    """CPython's ``random.getstate()`` = ``(3, tuple(words) + (index,), gauss_next)``:
    ``rng.words`` (624 MT19937 words), ``rng.index`` and ``rng.gauss_next``."""
    words: tuple
    index: int
    gauss_next: Optional[float] = None

    def to_random(self):
        """A ``random.Random`` that continues exactly where the checkpoint's generator stopped."""
        r = random.Random()
        r.setstate((3, tuple(int(w) for w in self.words) + (int(self.index),), self.gauss_next))
        return r

    @classmethod
    def from_random(cls, r):
        version, internal, gauss = r.getstate()
        if version != 3:
            raise ValueError(f"random state version {version}, expected 3")
        return cls(words=tuple(internal[:624]), index=internal[624], gauss_next=gauss)

    @classmethod
    def from_seed(cls, seed):
        return cls.from_random(random.Random(seed))


@dataclass
class DataIdentity:
    """The ``data.*`` keys: what the run was trained on (spec/TRAINING.md "Data identity")."""
    name: str
    byte_count: int
    token_count: int
    sha256: str

    def matches(self, other):
        """Same data: byte count, token count and SHA-256 agree (the name is informational)."""
        return (self.byte_count, self.token_count, self.sha256) == (other.byte_count, other.token_count, other.sha256)


@dataclass
class TrainingState:
    """Everything a resume needs besides the tensors: the ``train.*`` keys, the optimizer
    settings, the generator and the data."""
    rng: GeneratorState
    step: int = 0
    tokens_seen: int = 0
    seed: int = 42
    batch_size: int = 1
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    data: Optional[DataIdentity] = None
    windows_drawn: int = 0
    loss_history: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    session_starts: List[int] = field(default_factory=list)


@dataclass
class Tensor:
    """One tensor: canonical name (with its role's prefix), role, float32 values."""
    name: str
    role: str
    values: np.ndarray

    @property
    def shape(self):
        return tuple(self.values.shape)


@dataclass
class TraceInfo:
    """The ``trace.*`` keys of a trace file (§4.1, spec/TRACE.md)."""
    step: int
    batch_size: int
    seq_len: int
    target_count: int
    loss: float
    grad_norm: float
    learning_rate: float


@dataclass
class Checkpoint:
    """A whole checkpoint in memory. Tensors in file order: tt-ckpt writes the parameters in
    canonical order, then ``adam_m.*``, then ``adam_v.*``."""
    config: ModelConfig
    vocab: Vocabulary
    training: TrainingState
    tensors: List[Tensor]
    tool_version: str = PYTHON_TOOL_VERSION
    format_version: tuple = (MAJOR, MINOR)
    trace: Optional["TraceInfo"] = None

    def tensor(self, name):
        for t in self.tensors:
            if t.name == name:
                return t.values
        raise KeyError(name)

    def by_role(self, role):
        """{canonical name without prefix: values} of one role, in file order."""
        prefix = ROLE_PREFIX[role]
        return {t.name[len(prefix):]: t.values for t in self.tensors if t.role == role}

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def canonical_tensors(arch, V, D, H, F, L, T):
    """The canonical (name, shape) list of §5, in canonical order."""
    dk = D // H
    out = [("tok_emb", (V, D)), ("pos_emb", (T, D))]
    for i in range(L):
        p = f"layers.{i}."
        if arch == "gpt2":
            out += [(p + "ln1.gamma", (D,)), (p + "ln1.beta", (D,)), (p + "attn.wqkv", (3 * D, D)),
                    (p + "attn.bqkv", (3 * D,)), (p + "attn.wo", (D, D)), (p + "attn.bo", (D,)),
                    (p + "ln2.gamma", (D,)), (p + "ln2.beta", (D,)), (p + "ffn.w1", (F, D)), (p + "ffn.b1", (F,)),
                    (p + "ffn.w2", (D, F)), (p + "ffn.b2", (D,))]
            continue
        if arch == "gpt":
            out += [(p + "ln1.gamma", (D,)), (p + "ln1.beta", (D,))]
        out += [(p + "attn.wq", (H, D, dk)), (p + "attn.wk", (H, D, dk)), (p + "attn.wv", (H, D, dk)),
                (p + "attn.wo", (D, D))]
        if arch == "gpt":
            out += [(p + "ln2.gamma", (D,)), (p + "ln2.beta", (D,))]
        out += [(p + "ffn.w1", (F, D)), (p + "ffn.b1", (F,)), (p + "ffn.w2", (D, F)), (p + "ffn.b2", (D,))]
        if arch == "tutorial":
            out += [(p + "ln.gamma", (D,)), (p + "ln.beta", (D,))]
    if arch in ("gpt", "gpt2"):
        out += [("ln_f.gamma", (D,)), ("ln_f.beta", (D,))]
    if arch != "gpt2":  # gpt2's LM head is tok_emb (tied)
        out.append(("lm_head", (V, D)))
    return out


def is_norm_or_bias(name):
    """True for the canonical tensors ``optim.exempt_norm_and_bias`` keeps out of weight
    decay: biases and LayerNorm γ/β (tt-ckpt's ``TensorSlot.isNormOrBias``)."""
    return name.endswith((".b1", ".b2", ".bqkv", ".bo", ".gamma", ".beta"))


# ----------------------------------------------------------------------------------------
# Semantic checks, shared by the reader and the writer


class _Cursor:
    """Reads little-endian fields from a bytes payload; running past the end calls ``fail``."""

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


def _float32(x):
    return float(np.float32(x))


def _float32_text(x):
    """``x`` as a float32 in tt-ckpt's text (Swift's ``Float.description``): the shortest
    decimal that reads back as that float32, positional when 1e-4 ≤ |x| ≤ 2^24 (``0.0001``,
    ``1.0``), else with an exponent of at least two digits (``1.1754944e-38``, ``3e+07``)."""
    f = np.float32(x)
    if not np.isfinite(f):
        return "nan" if np.isnan(f) else ("inf" if f > 0 else "-inf")
    text = np.format_float_scientific(f, unique=True, trim="-", exp_digits=2)
    if f == 0 or (abs(f) <= 2 ** 24 and int(text.split("e")[1]) >= -4):
        return np.format_float_positional(f, unique=True, trim="0")
    return text


def _byte_label(b):
    """The byte vocabulary's label of byte b (§3.3)."""
    return chr(b) if 0x21 <= b <= 0x7E else f"<0x{b:02X}>"


def _is_white_space(ch):
    """Unicode White_Space (the 25 scalars of PropList.txt)."""
    o = ord(ch)
    return (0x09 <= o <= 0x0D or o in (0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
            or 0x2000 <= o <= 0x200A)


def check_vocabulary(kind, tokens, vocab_size):
    """The vocabulary rules of §3.3. Returns None, or the message after ``metadata key
    'vocab.tokens': `` (the same text tt-ckpt prints)."""
    if len(tokens) != vocab_size:
        return f"{len(tokens)} tokens, but the model's vocab_size is {vocab_size}"
    if kind == "byte" and len(tokens) != 256:
        return f"a byte vocabulary has exactly 256 tokens, this one {len(tokens)}"
    seen = {}
    for i, token in enumerate(tokens):
        raw = token.encode("utf-8")
        if not raw:
            return f"token {i} is empty"
        if len(raw) > MAX_TOKEN_BYTES:
            return f"token {i} is longer than {MAX_TOKEN_BYTES} bytes"
        if kind == "char" and len(token) != 1:
            return f"token {i} {_quote(token)} is {len(token)} characters; a char vocabulary has one Unicode scalar per token"
        if kind == "word":
            ws = next((ch for ch in token if _is_white_space(ch)), None)
            if ws is not None:
                return f"token {i} {_quote(token)} contains whitespace (U+{ord(ws):04X}); word tokens are split at whitespace"
        if kind == "byte" and token != _byte_label(i):
            return f"token {i} is {_quote(token)}, expected {_quote(_byte_label(i))}, the label of byte 0x{i:02X}"
        if raw in seen:
            return f"tokens {seen[raw]} and {i} are the same, {_quote(token)}"
        seen[raw] = i
    return None


def check_progress(step, tokens_seen, loss_count, session_starts, batch_size, context):
    """The training-progress rules of §3.3. Returns None, or (key, message)."""
    if not 1 <= batch_size <= MAX_BATCH:
        return "train.batch_size", f"must be in 1...{MAX_BATCH}, got {batch_size}"
    if loss_count != step:
        return "train.loss_history", f"{loss_count} losses for {step} steps; there is one loss per step"
    if step == 0:
        if tokens_seen != 0:
            return "train.tokens_seen", f"{tokens_seen} tokens seen in 0 steps"
    elif tokens_seen > step * max(context, 1) * MAX_BATCH:
        return ("train.tokens_seen", f"{tokens_seen} tokens seen in {step} steps, more than {step} × {context} "
                                     f"positions × {MAX_BATCH} sequences")
    for i, v in enumerate(session_starts):
        if not 0 <= v <= step:
            return "train.session_starts", f"element {i} ({v}) is not in 0...{step}, the steps taken"
        if i > 0 and v < session_starts[i - 1]:
            return ("train.session_starts", f"element {i} ({v}) is less than element {i - 1} "
                                            f"({session_starts[i - 1]}); sessions start in order")
    return None


# GPT-2's byte-level spelling (§3.4): byte -> one character.
_BYTE_SPELLING = {}
_n = 0
for _b in range(256):
    if 0x21 <= _b <= 0x7E or 0xA1 <= _b <= 0xAC or 0xAE <= _b <= 0xFF:
        _BYTE_SPELLING[_b] = chr(_b)
    else:
        _BYTE_SPELLING[_b] = chr(0x100 + _n)
        _n += 1
_SPELLING_BYTE = {c: b for b, c in _BYTE_SPELLING.items()}


def check_bpe(tokens, bpe, vocab_size):
    """The bpe rules of §3.4. Returns None, or (key, message)."""
    if bpe.pre_tokenizer != "gpt2":
        return "vocab.bpe.pre_tokenizer", f"{_quote(bpe.pre_tokenizer)} is not a known pre-tokenizer (only gpt2)"
    added = set(int(i) for i in bpe.added_ids)
    as_bytes = []
    for i, token in enumerate(tokens):
        if i in added:
            raw = token.encode("utf-8")
        else:
            if any(ch not in _SPELLING_BYTE for ch in token):
                return "vocab.tokens", f"token {i} {_quote(token)} is not a byte-level spelling and not an added token"
            raw = bytes(_SPELLING_BYTE[ch] for ch in token)
        if not 1 <= len(raw) <= 1024:
            return "vocab.tokens", f"token {i} is {len(raw)} bytes, not 1...1024"
        as_bytes.append(raw)
    index = {}
    for i, raw in enumerate(as_bytes):
        if raw in index:
            return "vocab.tokens", f"tokens {index[raw]} and {i} have the same bytes"
        index[raw] = i
    missing = [b for b in range(256) if bytes([b]) not in index]
    if missing:
        return "vocab.tokens", f"the one-byte token 0x{missing[0]:02X} is missing"
    merges = [int(m) for m in bpe.merges]
    if len(merges) % 2 or len(merges) > 2 * (1 << 20):
        return "vocab.merges", f"has {len(merges)} ids, not an even number up to 2 × 2^20"
    pairs = set()
    for r in range(len(merges) // 2):
        left, right = merges[2 * r], merges[2 * r + 1]
        if left >= vocab_size or right >= vocab_size:
            return "vocab.merges", f"merge {r} names id {max(left, right)}, out of range ({vocab_size} tokens)"
        if as_bytes[left] + as_bytes[right] not in index:
            return "vocab.merges", f"merge {r} gives bytes that are no token"
        if (left, right) in pairs:
            return "vocab.merges", f"merge {r} repeats an earlier pair"
        pairs.add((left, right))
    ids = [int(i) for i in bpe.added_ids]
    if len(bpe.added_flags) != len(ids):
        return "vocab.bpe.added_flags", f"has {len(bpe.added_flags)} entries for {len(ids)} added ids"
    previous = -1
    for i, flags in zip(ids, bpe.added_flags):
        if i <= previous:
            return "vocab.bpe.added_ids", f"ids are not strictly increasing at {i}"
        if i >= vocab_size:
            return "vocab.bpe.added_ids", f"id {i} is out of range ({vocab_size} tokens)"
        if int(flags) & ~3:
            return "vocab.bpe.added_flags", f"flags {int(flags)} of id {i} has unknown bits"
        previous = i
    return None


def _check_metadata(items, fail):
    """Checks typed metadata {key: (type name, value)} against §3 in the order of §10 step 6
    and returns (config, vocab, training, tool_version, trace). ``fail(kind, message)`` raises."""

    def get(key, vtype, required=True):
        if key not in items:
            if required:
                fail("missingKey", f"metadata: missing required key '{key}'")
            return None
        have, value = items[key]
        if have != vtype:
            fail("wrongType", f"metadata key '{key}': type {have}, expected {vtype}")
        return value

    def invalid(key, message):
        fail("invalidValue", f"metadata key '{key}': {message}")

    def count(key, required=True):
        """A u64 that is a count: ≤ 2^63 − 1 (§3.2), checked with its type."""
        v = get(key, "u64", required)
        if v is not None and v > U63:
            invalid(key, f"value {v} is out of range")
        return None if v is None else int(v)

    # Presence and types (and the 2^63 − 1 cap), in the order of §10 step 6.
    tool_version = get("format.tool_version", "string")
    arch = get("model.arch", "string")
    if arch not in ARCHS:
        invalid("model.arch", f"unknown architecture {_quote(arch)}")
    dims = {key: count(key) for key in ("model.vocab_size", "model.d_model", "model.n_heads", "model.d_ff",
                                         "model.n_layers", "model.context")}
    kind = get("vocab.kind", "string")
    if kind not in VOCAB_KINDS:
        invalid("vocab.kind", f"unknown tokenizer kind {_quote(kind)}")
    tokens = list(get("vocab.tokens", "array<string>"))
    bpe = None
    if kind == "bpe":
        bpe = BPEData(merges=[int(m) for m in get("vocab.merges", "array<u32>")],
                      added_ids=[int(i) for i in (get("vocab.bpe.added_ids", "array<u32>", False) if
                                                  "vocab.bpe.added_ids" in items else [])],
                      added_flags=[int(i) for i in (get("vocab.bpe.added_flags", "array<u32>", False) if
                                                    "vocab.bpe.added_flags" in items else [])],
                      pre_tokenizer=get("vocab.bpe.pre_tokenizer", "string"),
                      add_prefix_space=bool(get("vocab.bpe.add_prefix_space", "bool", False) or False),
                      ignore_merges=bool(get("vocab.bpe.ignore_merges", "bool", False) or False))
    else:
        for key in BPE_KEYS:
            if key in items:
                fail("invalidValue", f"metadata key '{key}' is only allowed with vocab.kind 'bpe'")
    o = OptimizerSettings()
    o.lr = get("optim.lr", "f64")
    o.beta1 = get("optim.beta1", "f64")
    o.beta2 = get("optim.beta2", "f64")
    o.epsilon = get("optim.epsilon", "f64")
    o.weight_decay = get("optim.weight_decay", "f64")
    o.exempt_norm_and_bias = get("optim.exempt_norm_and_bias", "bool")
    o.grad_clip = get("optim.grad_clip", "f64")
    o.schedule = get("optim.schedule", "string")
    if o.schedule not in SCHEDULES:
        invalid("optim.schedule", f"unknown schedule {_quote(o.schedule)}")
    o.warmup_steps = count("optim.warmup_steps")
    o.decay_steps = count("optim.decay_steps")
    o.min_lr_ratio = get("optim.min_lr_ratio", "f64")
    words = get("rng.words", "array<u32>")
    index = count("rng.index")
    gauss = get("rng.gauss_next", "f64", required=False)
    step = count("train.step")
    tokens_seen = count("train.tokens_seen")
    seed = get("train.seed", "u64")
    batch_size = count("train.batch_size")
    windows_drawn = get("train.windows_drawn", "u64")
    loss_history = np.asarray(get("train.loss_history", "array<f32>"), np.float32)
    starts = [int(v) for v in get("train.session_starts", "array<u64>")]
    for i, v in enumerate(starts):
        if v > U63:
            invalid("train.session_starts", f"element {i} is out of range")
    data_keys = [("data.byte_count", "u64"), ("data.name", "string"), ("data.sha256", "string"),
                 ("data.token_count", "u64")]
    data = None
    if any(k in items for k, _ in data_keys):
        for key, _ in data_keys:
            if key not in items:
                fail("missingKey", f"metadata: missing key '{key}' (the data.* keys are all present or all absent)")
        data = {"name": get("data.name", "string"), "byte_count": count("data.byte_count"),
                "token_count": count("data.token_count"), "sha256": get("data.sha256", "string")}

    # Ranges. The model limits, then H divides D, then the parameter count.
    limits = {"model.vocab_size": 1 << 20, "model.d_model": 1 << 14, "model.n_heads": 1 << 10,
              "model.d_ff": 1 << 16, "model.n_layers": 1 << 10, "model.context": 1 << 16}
    for key, hi in limits.items():
        v = dims[key]
        if v < 1:
            invalid(key, f"must be at least 1, got {v}")
        if v > hi:
            invalid(key, f"must be at most {hi}, got {v}")
    config = ModelConfig(arch, dims["model.vocab_size"], dims["model.d_model"], dims["model.n_heads"],
                         dims["model.d_ff"], dims["model.n_layers"], dims["model.context"])
    if config.d_model % config.n_heads:
        invalid("model.n_heads", f"{config.n_heads} heads do not divide d_model {config.d_model}")
    n = config.parameter_count()
    if n > MAX_PARAMETERS:
        invalid("model", f"{n} parameters is more than the limit {MAX_PARAMETERS}")
    problem = check_vocabulary(kind, tokens, config.vocab_size)
    if problem:
        invalid("vocab.tokens", problem)
    if bpe is not None:
        problem = check_bpe(tokens, bpe, config.vocab_size)
        if problem:
            invalid(*problem)

    # The optimizer, each value also as the float32 the engine uses (§3.2 footnote 2).
    def normal_f32(key, v):
        if not abs(_float32(v)) >= F32_MIN_NORMAL:
            became = "0" if _float32(v) == 0 else "subnormal"
            invalid(key, f"{v!r} is {became} in float32 (the engine's type); must be at least {_float32_text(F32_MIN_NORMAL)}")
    if not (math.isfinite(o.lr) and 0 < o.lr <= 10):
        invalid("optim.lr", f"must be in (0, 10], got {o.lr!r}")
    normal_f32("optim.lr", o.lr)
    for key, b in (("optim.beta1", o.beta1), ("optim.beta2", o.beta2)):
        if not (math.isfinite(b) and 0 <= b < 1 and _float32(1 - b) > 0):
            invalid(key, f"must be in [0, 1), got {b!r}")
    if not (math.isfinite(o.epsilon) and 0 < o.epsilon < 1):
        invalid("optim.epsilon", f"must be in (0, 1), got {o.epsilon!r}")
    normal_f32("optim.epsilon", o.epsilon)
    if not (math.isfinite(o.weight_decay) and o.weight_decay >= 0 and o.lr * o.weight_decay < 1
            and _float32(1 - o.lr * o.weight_decay) > 0):
        invalid("optim.weight_decay", f"must be ≥ 0 with lr·wd < 1, got {o.weight_decay!r}")
    if not (math.isfinite(o.grad_clip) and o.grad_clip >= 0):
        invalid("optim.grad_clip", f"must be ≥ 0 (0 = off), got {o.grad_clip!r}")
    if not (math.isfinite(o.min_lr_ratio) and 0 <= o.min_lr_ratio <= 1):
        invalid("optim.min_lr_ratio", f"must be in [0, 1], got {o.min_lr_ratio!r}")

    # The generator.
    if len(words) != 624:
        invalid("rng.words", f"{len(words)} words, expected 624")
    if not 0 <= index <= 624:
        invalid("rng.index", f"{index} is outside 0...624")
    if not np.any(words):
        invalid("rng.words", "all words are zero")
    if gauss is not None and not math.isfinite(gauss):
        invalid("rng.gauss_next", f"{gauss} is not finite")

    # The training progress (§3.3), then the data identity.
    problem = check_progress(step, tokens_seen, len(loss_history), starts, batch_size, config.context)
    if problem:
        invalid(*problem)
    t = TrainingState(rng=GeneratorState(tuple(int(w) for w in words), index, gauss), optimizer=o, step=step,
                      tokens_seen=tokens_seen, seed=seed, batch_size=batch_size, windows_drawn=windows_drawn,
                      loss_history=loss_history, session_starts=starts)
    if data is not None:
        if len(data["name"].encode("utf-8")) > MAX_STRING:
            invalid("data.name", f"longer than {MAX_STRING} bytes")
        sha = data["sha256"]
        if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha):
            invalid("data.sha256", "not 64 lowercase hex digits")
        t.data = DataIdentity(data["name"], data["byte_count"], data["token_count"], sha)

    # Trace keys (§4.1).
    trace = None
    if "trace.step" in items:
        v = {k: (count(k) if vtype == "u64" else get(k, vtype)) for k, vtype in TRACE_KEYS.items()}
        trace = TraceInfo(v["trace.step"], v["trace.batch_size"], v["trace.seq_len"], v["trace.target_count"],
                          v["trace.loss"], v["trace.grad_norm"], v["trace.learning_rate"])
        if trace.step != step + 1:
            invalid("trace.step", f"{trace.step}, expected train.step + 1 = {step + 1}")
        if not 1 <= trace.batch_size <= 1 << 20:
            invalid("trace.batch_size", f"{trace.batch_size} is not in 1...1048576")
        if not 1 <= trace.seq_len <= config.context:
            invalid("trace.seq_len", f"{trace.seq_len} is not in 1...model.context ({config.context})")
        if not trace.target_count <= trace.batch_size * trace.seq_len:
            invalid("trace.target_count", f"{trace.target_count} is not in 0...B·S")
    return config, Vocabulary(kind, tokens, bpe), t, tool_version, trace


def _check_tensor_set(config, entries, fail, trace=None):
    """entries: (name, role, shape) triples with unique names. Checks §4.1's rule: one pass
    in file order (role before shape), then the missing ones in canonical order."""
    expected = {}
    if trace is None:
        order = [ROLE_PREFIX[role] + name for role in ("parameter", "adam_m", "adam_v")
                 for name, _ in config.canonical_tensors()]
        for name, shape in config.canonical_tensors():
            for role in ("parameter", "adam_m", "adam_v"):
                expected[ROLE_PREFIX[role] + name] = (role, tuple(shape))
    else:
        order = []
        for name, shape in config.canonical_tensors():
            expected[name] = ("gradient", tuple(shape))
            expected["update." + name] = ("update", tuple(shape))
            order += [name, "update." + name]
        for name in ("batch.tokens", "batch.targets"):
            expected[name] = ("other", (trace.batch_size, trace.seq_len))
            order.append(name)
    where = "in a trace" if trace is not None else "for this config"
    seen = set()
    for name, role, shape in entries:
        q = f"tensor {_quote(name)}"
        if name in expected:
            want_role, want_shape = expected[name]
            if role != want_role:
                fail("unexpectedTensor", f"{q}: role {role}, expected {want_role}")
            if tuple(shape) != want_shape:
                fail("tensorShape", f"{q}: shape {list(shape)}, expected {list(want_shape)} {where}")
            seen.add(name)
        elif trace is not None:
            if role in ("activation", "activation_grad"):
                if not name.startswith(ROLE_PREFIX[role]):
                    fail("unexpectedTensor", f"{q}: role {role} needs a name starting with '{ROLE_PREFIX[role]}'")
            elif role == "other":
                if name.startswith(("act.", "grad.", "update.", "adam_m.", "adam_v.")):
                    fail("unexpectedTensor", f"{q}: role other may not use that prefix in a trace")
            else:
                fail("unexpectedTensor", f"{q}: role {role} but not a tensor of this trace")
        else:
            if role != "other":
                fail("unexpectedTensor", f"{q}: role {role} but not a tensor of this config"
                     + (" (trace roles need a trace file: no trace.step)" if role in TRACE_ROLES else ""))
            if name.startswith(("adam_m.", "adam_v.")):
                fail("unexpectedTensor", f"{q}: role other may not use a moment prefix")
    for name in order:
        if name not in seen:
            fail("missingTensor", f"tensor {_quote(name)}: missing ({expected[name][0]} {where})")


def model_digest(items):
    """§4.3's model digest of [(name, dtype code, shape, sha256 bytes)] for the tensors of role
    parameter (any order): 64 lowercase hex digits."""
    h = hashlib.sha256(DIGEST_DOMAIN)
    for name, code, shape, sha in sorted(items, key=lambda x: x[0].encode("utf-8")):
        nb = name.encode("utf-8")
        h.update(struct.pack("<I", len(nb)) + nb + bytes([code, len(shape)]))
        h.update(b"".join(struct.pack("<Q", d) for d in shape) + bytes(sha))
    return h.hexdigest()


def safetensors_model_digest(tensors):
    """The model digest of a safetensors export: ``tensors`` is {name: numpy array} as
    ``safetensors.numpy.load_file`` gives it; every tensor not named adam_m.* / adam_v.*
    takes part (float32 only)."""
    items = []
    for name, a in tensors.items():
        if name.startswith(("adam_m.", "adam_v.")):
            continue
        if a.dtype != np.float32:
            raise ValueError(f"tensor {name}: dtype {a.dtype} has no tt-ckpt model digest (float32 only)")
        items.append((name, 0, tuple(a.shape), hashlib.sha256(np.ascontiguousarray(a).astype("<f4").tobytes()).digest()))
    return model_digest(items)


# ----------------------------------------------------------------------------------------
# Reader


def _tag_name(tag):
    """A section tag as its four ASCII characters when printable, else 0x and 8 hex digits."""
    raw = struct.pack("<I", tag)
    if all(0x20 <= b < 0x7F and b not in (0x27, 0x5C) for b in raw):
        return raw.decode("ascii")
    return f"0x{tag:08x}"


def inflate_exact(blob, raw_length, fail):
    """§6 step 3: inflate a zlib stream that must give exactly ``raw_length`` bytes and end
    at the last stored byte; the output is bounded by ``raw_length`` + 1 bytes.
    ``fail(kind, message)`` raises."""
    d = zlib.decompressobj()
    try:
        raw = d.decompress(blob, raw_length + 1)
    except zlib.error as e:
        fail("corruptStream", f"zlib stream is corrupt ({e})")
    if len(raw) > raw_length:
        fail("inflateTooLong", f"inflates to more than the raw length {raw_length}")
    if not d.eof:
        if len(raw) == raw_length:
            fail("inflateTooShort", f"the zlib stream ends before its end (all {raw_length} raw bytes inflated, "
                                    f"no final block or Adler-32 trailer; truncated stream)")
        fail("inflateTooShort", f"inflates to {len(raw)} bytes, less than the raw length {raw_length} (truncated stream)")
    if d.unused_data:
        fail("corruptStream", f"{len(d.unused_data)} bytes after the end of the zlib stream")
    if len(raw) < raw_length:
        fail("inflateTooShort", f"inflates to {len(raw)} bytes, less than the raw length {raw_length} (truncated stream)")
    return raw


class TTCFile:
    """An open .ttc file: preamble, header, directory and metadata read and validated.
    Tensors are inflated only by ``load_tensor`` / ``load_all``. ``data`` (bytes) reads from
    memory instead of ``path`` (``path`` then only names the source in errors)."""

    def __init__(self, path, data=None):
        self.path = str(path)
        self._file = None
        self._data = data
        if data is None:
            self._open()
        else:
            self.file_size = len(data)
        try:
            self._read_structure()
        except BaseException:
            self.close()
            raise

    def _open(self):
        try:
            # O_NONBLOCK: a FIFO must not block the open (it is refused below).
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
        except OSError as e:
            self._fail("io", f"cannot open: {e.strerror or e}")
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                self._fail("io", "is a directory")
            if not stat.S_ISREG(st.st_mode):
                self._fail("io", "is not a regular file")
        except BaseException:
            os.close(fd)
            raise
        self._file = os.fdopen(fd, "rb")
        self.file_size = st.st_size

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fail(self, kind, message):
        raise FormatError(self.path, kind, message)

    def _read_at(self, offset, n):
        if self._data is not None:
            data = self._data[offset:offset + n]
        else:
            try:
                self._file.seek(offset)
                data = self._file.read(n)
            except OSError as e:
                self._fail("io", f"read failed at {offset}: {e.strerror or e}")
        if len(data) != n:
            self._fail("io", f"short read of {n} bytes at {offset} (the file changed while being read?)")
        return bytes(data)

    # §1 and §2 -------------------------------------------------------------------------
    def _read_structure(self):
        head = self._read_at(0, min(32, self.file_size))
        if head[:8] != MAGIC[:len(head[:8])]:  # only the bytes present (§1)
            self._fail("notTTC", "not a .ttc file (bad magic bytes)")
        if len(head) < 32:
            self._fail("truncated", f"{self.file_size} bytes, shorter than the 32-byte preamble")
        major, minor, reserved, header_length, header_crc, preamble_crc = struct.unpack("<HHIQII", head[8:32])
        if major != MAJOR:
            self._fail("unsupportedVersion", f"format version {major}.{minor} is not supported "
                                             f"(this reader reads major version {MAJOR} only)")
        if zlib.crc32(head[:28]) != preamble_crc:
            self._fail("preambleCRC", f"preamble CRC-32 mismatch (stored 0x{preamble_crc:08x}, "
                                      f"computed 0x{zlib.crc32(head[:28]):08x})")
        if reserved != 0:
            self._fail("reservedField", f"reserved preamble field is {reserved}, not 0")
        if header_length > MAX_HEADER:
            self._fail("headerTooLarge", f"header length {header_length} is more than the cap {MAX_HEADER}")
        if header_length > self.file_size - 32:
            self._fail("headerOutOfFile", f"header length {header_length} runs past the end of the file "
                                          f"({self.file_size} bytes)")
        header = self._read_at(32, header_length)
        if zlib.crc32(header) != header_crc:
            self._fail("headerCRC", f"header CRC-32 mismatch (stored 0x{header_crc:08x}, "
                                    f"computed 0x{zlib.crc32(header):08x})")
        self.version = (major, minor)
        self.header_length = header_length

        sections, self.section_tags = {}, []
        pos = 0
        while pos < header_length:
            if header_length - pos < 12:
                self._fail("malformedSection", f"{header_length - pos} bytes left at header offset {pos}, "
                                               f"too few for a section header")
            tag, length = struct.unpack("<IQ", header[pos:pos + 12])
            pos += 12
            if length > header_length - pos:
                self._fail("malformedSection", f"section '{_tag_name(tag)}' (length {length}) runs past the header")
            self.section_tags.append(tag)
            if tag in (TAG_META, TAG_TDIR, TAG_HASH):
                if tag in sections:
                    self._fail("duplicateSection", f"section '{_tag_name(tag)}' appears twice")
                sections[tag] = header[pos:pos + length]
            elif tag & 0x20 == 0:  # §2: bit 5 of the first byte clear = critical
                self._fail("unknownCriticalSection", f"section '{_tag_name(tag)}' is critical (first letter uppercase) "
                                                     f"and unknown to this reader (format {MAJOR}.{MINOR})")
            pos += length
        for tag in (TAG_META, TAG_TDIR):
            if tag not in sections:
                self._fail("missingSection", f"no {_tag_name(tag)} section")

        # The spec's check order (§10): directory entries, the hash section, META structure,
        # metadata values, tensor set.
        self.entries = self._read_directory(sections[TAG_TDIR])
        self._by_name = {e.name: e for e in self.entries}
        self._index = {e.name: i for i, e in enumerate(self.entries)}
        self.digests = self._read_digests(sections[TAG_HASH]) if TAG_HASH in sections else None
        self.metadata = self._read_metadata(sections[TAG_META])
        self.config, self.vocab, self.training, self.tool_version, self.trace = _check_metadata(self.metadata, self._fail)
        _check_tensor_set(self.config, [(e.name, e.role, e.shape) for e in self.entries], self._fail, self.trace)

    def _read_digests(self, payload):
        """§4.2: u64 count = the directory's, then 32 bytes per tensor, nothing more."""
        if len(payload) < 8:
            self._fail("malformedSection", f"section 'hash': {len(payload)} bytes, too short for its count")
        (count,) = struct.unpack("<Q", payload[:8])
        if count != len(self.entries):
            self._fail("malformedSection", f"section 'hash': {count} digests for {len(self.entries)} tensors")
        if len(payload) - 8 != 32 * count:
            self._fail("malformedSection", f"section 'hash': {len(payload) - 8} bytes of digests, expected 32 × {count}")
        return [payload[8 + 32 * i:8 + 32 * (i + 1)] for i in range(count)]

    def stored_model_digest(self):
        """The model digest (§4.3) from the hash section and the directory, or None for a
        file without a hash section."""
        if self.digests is None:
            return None
        return model_digest([(e.name, e.codes[0], e.shape, d) for e, d in zip(self.entries, self.digests)
                             if e.role == "parameter"])

    def model_digest(self):
        """The model digest: stored if the file has a hash section, else computed by loading
        every parameter tensor."""
        stored = self.stored_model_digest()
        if stored is not None:
            return stored
        return model_digest([(e.name, e.codes[0], e.shape, hashlib.sha256(self.load_tensor(e.name).astype("<f4").tobytes()).digest())
                             for e in self.entries if e.role == "parameter"])

    # §4 --------------------------------------------------------------------------------
    def _read_directory(self, payload):
        def bad(message):
            self._fail("malformedDirectory", message)
        c = _Cursor(payload, bad)
        count = c.u64("tensor count")
        if count > MAX_TENSORS:
            self._fail("tooManyTensors", f"{count} tensors is more than the cap {MAX_TENSORS}")
        if count > (len(payload) - 8) // 41:
            bad(f"tensor count {count} does not fit the directory ({len(payload)} bytes)")
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
                self._fail("badRole", f"{q}: role {role} is not 0...7")
            # Unknown dtype, compression or filter codes are kept (§4): only loading fails.
            if rank > MAX_RANK:
                self._fail("badRank", f"{q}: rank {rank} is more than {MAX_RANK}")
            shape = tuple(c.u64(f"{q} shape") for _ in range(rank))
            if any(d < 1 for d in shape):
                self._fail("badDimension", f"{q}: shape {list(shape)} has a zero dimension")
            offset, stored, raw = c.u64(f"{q} offset"), c.u64(f"{q} stored_length"), c.u64(f"{q} raw_length")
            raw_crc, stored_crc = c.u32(f"{q} raw_crc32"), c.u32(f"{q} stored_crc32")
            elements = 1
            for d in shape:
                elements *= d  # Python ints do not overflow; the spec's bound is 2^62 bytes.
            if dtype in DTYPES:
                size = elements * DTYPES[dtype][1]
                if size >= 2 ** 62:
                    self._fail("sizeOverflow", f"{q}: shape {list(shape)} × {DTYPES[dtype][1]} bytes is 2^62 or more")
                if raw != size:
                    self._fail("rawLengthMismatch", f"{q}: raw_length {raw}, but shape {list(shape)} needs {size}")
            else:
                if elements >= 2 ** 62:
                    self._fail("sizeOverflow", f"{q}: shape {list(shape)} elements is 2^62 or more")
                if raw >= 2 ** 62:
                    self._fail("sizeOverflow", f"{q}: raw length {raw} is 2^62 bytes or more")
            if compression == 1 and raw > MAX_EXPANSION * stored:
                self._fail("expansionRatio", f"{q}: raw_length {raw} is more than {MAX_EXPANSION} × "
                                             f"stored_length {stored}")
            if offset + stored > self.file_size:
                self._fail("blobOutOfFile", f"{q}: blob [{offset}, {offset + stored}) runs past the end of "
                                            f"the file ({self.file_size} bytes)")
            if offset != expected_offset:
                self._fail("blobPlacement", f"{q}: blob at {offset}, expected {expected_offset}")
            expected_offset = offset + stored
            entries.append(TensorEntry(name, ROLES[role], DTYPES[dtype][0] if dtype in DTYPES else f"dtype {dtype}",
                                       COMPRESSIONS.get(compression, f"compression {compression}"),
                                       FILTERS.get(filt, f"filter {filt}"), shape, offset, stored, raw, raw_crc,
                                       stored_crc, (dtype, compression, filt)))
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
            if vtype not in TYPE_NAMES:
                bad(f"metadata key {_quote(key)}: unknown type {vtype}")
            items[key] = self._read_value(c, vtype, key, bad)
        if c.left != 0:
            bad(f"{c.left} unused bytes after the last metadata item")
        return items

    @staticmethod
    def _read_scalar(c, vtype, what, bad):
        if vtype in SCALAR_FORMAT:
            fmt = SCALAR_FORMAT[vtype]
            return struct.unpack(fmt, c.take(struct.calcsize(fmt), what))[0]
        if vtype == 5:
            b = c.u8(what)
            if b > 1:
                bad(f"{what}: bool byte {b} is not 0 or 1")
            return bool(b)
        return c.string(what, MAX_STRING)

    def _read_value(self, c, vtype, key, bad):
        """(type name, value): numeric arrays as numpy arrays, string and bool arrays as lists."""
        what = f"metadata key {_quote(key)}"
        if vtype != 7:
            return TYPE_NAMES[vtype], self._read_scalar(c, vtype, what, bad)
        etype = c.u8(what)
        if etype == 7:
            bad(f"{what}: nested arrays are not allowed")
        if etype not in MIN_ELEMENT:
            bad(f"{what}: array element type {etype} is not 0...6")
        count = c.u64(what)
        if count * MIN_ELEMENT[etype] > c.left:
            bad(f"{what}: {count} elements do not fit the payload")
        name = f"array<{TYPE_NAMES[etype]}>"
        if etype in NUMPY_ELEMENT:
            size = MIN_ELEMENT[etype]
            return name, np.frombuffer(c.take(count * size, what), NUMPY_ELEMENT[etype]).copy()
        return name, [self._read_scalar(c, etype, what, bad) for _ in range(count)]

    # §6 --------------------------------------------------------------------------------
    def load_tensor(self, name, verify_digest=False):
        """One tensor as a float32 array of its shape (a 0-d array for rank 0), after the
        stored CRC, exact inflate and raw CRC checks (§6), and with ``verify_digest`` the
        SHA-256 of the hash section. An unknown name raises KeyError."""
        e = self._by_name.get(name)
        if e is None:
            raise KeyError(name)
        q = f"tensor {_quote(name)}"
        blob = self._read_at(e.offset, e.stored_length)
        if zlib.crc32(blob) != e.stored_crc32:
            self._fail("storedCRC", f"{q}: stored CRC-32 mismatch (directory 0x{e.stored_crc32:08x}, "
                                    f"computed 0x{zlib.crc32(blob):08x})")
        unknown = [label for label, known in ((e.dtype, e.codes[0] in DTYPES), (e.compression, e.codes[1] in COMPRESSIONS),
                                              (e.filter, e.codes[2] in FILTERS)) if not known]
        if unknown:
            self._fail("unsupportedEncoding", f"{q}: {unknown[0]} is not known to this reader (format {MAJOR}.{MINOR}); "
                                              f"its values need a newer tt-ckpt")
        filtered = inflate_exact(blob, e.raw_length, lambda kind, m: self._fail(kind, f"{q}: {m}"))
        n = e.raw_length // 4
        if e.filter == "shuffle":
            raw = np.frombuffer(filtered, np.uint8).reshape(4, n).T.tobytes()
        else:
            raw = filtered
        if zlib.crc32(raw) != e.raw_crc32:
            self._fail("rawCRC", f"{q}: raw CRC-32 mismatch (directory 0x{e.raw_crc32:08x}, "
                                 f"computed 0x{zlib.crc32(raw):08x})")
        if verify_digest and self.digests is not None:
            want, got = self.digests[self._index[name]], hashlib.sha256(raw).digest()
            if want != got:
                self._fail("rawDigest", f"{q}: SHA-256 mismatch (hash section {want.hex()}, computed {got.hex()})")
        return np.frombuffer(raw, "<f4").astype(np.float32).reshape(e.shape)

    def verify(self):
        """Loads every tensor with its SHA-256 checked (what `tt-ckpt inspect --verify` does)."""
        for e in self.entries:
            self.load_tensor(e.name, verify_digest=True)

    def load_all(self):
        """Every tensor, in directory order, as {name: array}."""
        return {e.name: self.load_tensor(e.name) for e in self.entries}

    def values(self):
        """The metadata without type tags: {key: value}."""
        return {k: v for k, (_, v) in self.metadata.items()}

    def checkpoint(self):
        """The whole checkpoint (every tensor loaded and verified)."""
        tensors = [Tensor(e.name, e.role, self.load_tensor(e.name)) for e in self.entries]
        return Checkpoint(self.config, self.vocab, self.training, tensors, self.tool_version, self.version, self.trace)


def read(path, data=None):
    """Reads a whole .ttc file into a ``Checkpoint``; every check of the spec runs, every
    CRC is verified. A failure raises ``FormatError``."""
    with TTCFile(path, data) as f:
        return f.checkpoint()


def load(path):
    """Reads a whole .ttc file: returns (metadata, tensors), metadata as {key: value}
    (numeric arrays as numpy arrays, string and bool arrays as lists), tensors as
    {name: float32 array}. Every check of the spec runs; a failure raises FormatError."""
    with TTCFile(path) as f:
        return f.values(), f.load_all()


# ----------------------------------------------------------------------------------------
# Writer


def _metadata_items(c):
    """{key: (type name, value)} of a checkpoint, the keys tt-ckpt 1.0 writes."""
    cfg, t, o = c.config, c.training, c.training.optimizer
    items = {
        "format.tool_version": ("string", c.tool_version),
        "model.arch": ("string", cfg.arch),
        "model.context": ("u64", cfg.context), "model.d_ff": ("u64", cfg.d_ff),
        "model.d_model": ("u64", cfg.d_model), "model.n_heads": ("u64", cfg.n_heads),
        "model.n_layers": ("u64", cfg.n_layers), "model.vocab_size": ("u64", cfg.vocab_size),
        "optim.beta1": ("f64", o.beta1), "optim.beta2": ("f64", o.beta2),
        "optim.decay_steps": ("u64", o.decay_steps), "optim.epsilon": ("f64", o.epsilon),
        "optim.exempt_norm_and_bias": ("bool", o.exempt_norm_and_bias),
        "optim.grad_clip": ("f64", o.grad_clip), "optim.lr": ("f64", o.lr),
        "optim.min_lr_ratio": ("f64", o.min_lr_ratio), "optim.schedule": ("string", o.schedule),
        "optim.warmup_steps": ("u64", o.warmup_steps), "optim.weight_decay": ("f64", o.weight_decay),
        "rng.index": ("u64", t.rng.index), "rng.words": ("array<u32>", t.rng.words),
        "train.batch_size": ("u64", t.batch_size), "train.loss_history": ("array<f32>", t.loss_history),
        "train.seed": ("u64", t.seed), "train.session_starts": ("array<u64>", t.session_starts),
        "train.step": ("u64", t.step), "train.tokens_seen": ("u64", t.tokens_seen),
        "train.windows_drawn": ("u64", t.windows_drawn),
        "vocab.kind": ("string", c.vocab.kind), "vocab.tokens": ("array<string>", c.vocab.tokens),
    }
    if t.rng.gauss_next is not None:
        items["rng.gauss_next"] = ("f64", t.rng.gauss_next)
    if t.data is not None:
        d = t.data
        items.update({"data.byte_count": ("u64", d.byte_count), "data.name": ("string", d.name),
                      "data.sha256": ("string", d.sha256), "data.token_count": ("u64", d.token_count)})
    b = c.vocab.bpe
    if c.vocab.kind == "bpe" and b is not None:
        items.update({"vocab.bpe.add_prefix_space": ("bool", b.add_prefix_space),
                      "vocab.bpe.added_flags": ("array<u32>", np.asarray(b.added_flags, np.uint32)),
                      "vocab.bpe.added_ids": ("array<u32>", np.asarray(b.added_ids, np.uint32)),
                      "vocab.bpe.ignore_merges": ("bool", b.ignore_merges),
                      "vocab.bpe.pre_tokenizer": ("string", b.pre_tokenizer),
                      "vocab.merges": ("array<u32>", np.asarray(b.merges, np.uint32))})
    r = c.trace
    if r is not None:
        items.update({"trace.batch_size": ("u64", r.batch_size), "trace.grad_norm": ("f64", r.grad_norm),
                      "trace.learning_rate": ("f64", r.learning_rate), "trace.loss": ("f64", r.loss),
                      "trace.seq_len": ("u64", r.seq_len), "trace.step": ("u64", r.step),
                      "trace.target_count": ("u64", r.target_count)})
    return items


def _encode_scalar(code, value, key, fail):
    if code in (0, 1, 2):
        lo, hi = {0: (0, 2 ** 32 - 1), 1: (-2 ** 63, 2 ** 63 - 1), 2: (0, 2 ** 64 - 1)}[code]
        if isinstance(value, (bool, float)) or not lo <= int(value) <= hi:
            fail(f"metadata key '{key}': {value!r} is not a {TYPE_NAMES[code]}")
        return struct.pack(SCALAR_FORMAT[code], int(value))
    if code == 3:
        return np.asarray(value, np.float32).astype("<f4").tobytes()
    if code == 4:
        return np.asarray(value, np.float64).astype("<f8").tobytes()
    if code == 5:
        return bytes([1 if value else 0])
    raw = str(value).encode("utf-8")
    if len(raw) > MAX_STRING:
        fail(f"metadata key '{key}': string of {len(raw)} bytes is longer than {MAX_STRING}")
    return struct.pack("<I", len(raw)) + raw


def _encode_metadata(items, fail):
    out = [struct.pack("<Q", len(items))]
    for key in sorted(items, key=lambda k: k.encode("utf-8")):
        vtype, value = items[key]
        kb = key.encode("utf-8")
        out.append(struct.pack("<I", len(kb)) + kb)
        if vtype.startswith("array<"):
            code = TYPE_CODES[vtype[6:-1]]
            values = list(value) if code >= 5 else value
            out.append(bytes([7, code]) + struct.pack("<Q", len(values)))
            if code in NUMPY_ELEMENT:
                arr = np.asarray(value)
                if code in (0, 1, 2) and arr.size and (arr.dtype.kind not in "ui" or arr.min() < 0
                                                       or (code == 0 and arr.max() > 2 ** 32 - 1)):
                    fail(f"metadata key '{key}': values do not fit {vtype}")
                out.append(arr.astype(NUMPY_ELEMENT[code]).tobytes())
            else:
                out.extend(_encode_scalar(code, v, key, fail) for v in values)
        else:
            code = TYPE_CODES[vtype]
            out.append(bytes([code]) + _encode_scalar(code, value, key, fail))
    return b"".join(out)


def _deflate(data, level, strategy):
    c = zlib.compressobj(level, zlib.DEFLATED, 15, 8, strategy)
    return c.compress(data) + c.flush()


def _shuffle(raw):
    """Byte shuffle of 4-byte elements (§6): output byte b·n + i = raw byte 4i + b."""
    return np.frombuffer(raw, np.uint8).reshape(-1, 4).T.tobytes()


def _stored_stream(data):
    """tt-ckpt's ``none`` encoding (§8): a zlib header, non-final stored blocks of at most
    65 535 bytes, an empty final fixed-Huffman block, the Adler-32 of ``data``."""
    out = [b"\x78\x01"]
    for i in range(0, len(data), 65535):
        k = min(65535, len(data) - i)
        out.append(struct.pack("<BHH", 0, k, k ^ 0xFFFF) + data[i:i + k])
    out.append(b"\x03\x00" + struct.pack(">I", zlib.adler32(data)))
    return b"".join(out)


# The byte-plane encoder (§8, tt-ckpt's ``fast``; the C original is
# Sources/CBlobCodec/blobcodec.c, ``cb_zlib_planes``). Every bit is this code's own, so the
# bytes do not depend on the zlib library.

_CLEN_ORDER = (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15)
_CLEN_EXTRA = {16: 2, 17: 3, 18: 7}   # extra bits of the code-length code's repeat codes
_LEN_BASE = np.array([3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                      35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258], np.int64)
_LEN_EXTRA = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                       3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0], np.int64)
_MAX_RUN = 258
_STORED_BLOCK = 65535
_PLANE_SAMPLE_CHUNKS = 4     # CB_SAMPLE_CHUNKS
_PLANE_SAMPLE_BYTES = 8192   # CB_SAMPLE_BYTES


def _huffman_lengths(freq, limit):
    """Code lengths for ``freq`` (one count per symbol), as ``huffman_lengths`` in
    blobcodec.c: Huffman by a two-queue merge over the used symbols ordered by (frequency,
    symbol), a leaf taken before a node of equal weight; then limited to ``limit`` bits
    as miniz's tdefl_huffman_enforce_max_code_size does; the longest codes go to the
    first symbols in that order. Unused symbols get 0; a lone used symbol gets length 1
    and so does the lowest other symbol."""
    freq = [int(f) for f in freq]
    lengths = [0] * len(freq)
    leaves = sorted((f, s) for s, f in enumerate(freq) if f)
    n = len(leaves)
    if n == 0:
        return lengths
    if n == 1:
        used = leaves[0][1]
        lengths[used] = 1
        lengths[1 if used == 0 else 0] = 1
        return lengths
    weight = [f for f, _ in leaves]
    parent = [-1] * n
    next_leaf, next_node = 0, n
    for _ in range(n - 1):
        pick = []
        for _ in range(2):
            if next_leaf < n and (next_node >= len(weight) or weight[next_leaf] <= weight[next_node]):
                pick.append(next_leaf)
                next_leaf += 1
            else:
                pick.append(next_node)
                next_node += 1
        parent[pick[0]] = parent[pick[1]] = len(weight)
        weight.append(weight[pick[0]] + weight[pick[1]])
        parent.append(-1)
    depth = [0] * len(weight)
    for i in range(len(weight) - 2, -1, -1):
        depth[i] = depth[parent[i]] + 1
    maxlen = max(depth[:n])
    count = [0] * (max(maxlen, limit) + 2)
    for d in depth[:n]:
        count[d] += 1
    if maxlen > limit:
        for i in range(limit + 1, maxlen + 1):
            count[limit] += count[i]
            count[i] = 0
        total = sum(count[i] << (limit - i) for i in range(1, limit + 1))
        while total != 1 << limit:
            count[limit] -= 1
            for i in range(limit - 1, 0, -1):
                if count[i]:
                    count[i] -= 1
                    count[i + 1] += 2
                    break
            total -= 1
        maxlen = limit
    i = 0
    for length in range(maxlen, 0, -1):
        for _ in range(count[length]):
            lengths[leaves[i][1]] = length
            i += 1
    return lengths


def _canonical_codes(lengths):
    """RFC 1951 §3.2.2's canonical codes for ``lengths``, bit-reversed for LSB-first output."""
    count = [0] * 16
    for n in lengths:
        count[n] += 1
    count[0] = 0
    next_code, c = [0] * 16, 0
    for n in range(1, 16):
        c = (c + count[n - 1]) << 1
        next_code[n] = c
    codes = []
    for n in lengths:
        if n:
            codes.append(int(format(next_code[n], f"0{n}b")[::-1], 2))
            next_code[n] += 1
        else:
            codes.append(0)
    return codes


class _DynamicHeader:
    """A dynamic block's header (RFC 1951 §3.2.7) for literal/length lengths ``litlen``
    and distance lengths ``dist``, as ``build_header`` in blobcodec.c: the concatenated
    lengths as runs (a run of zeros: code 18 for 11–138 repeatedly while 11 or more are
    left, then code 17 for 3–10, then single zeros; a run of another length: the length
    once, then code 16 for 3–6 repeatedly while 3 or more are left, then the length
    singly; runs continue across the literal/distance boundary), the code-length code
    from these symbols' counts limited to 7 bits, HCLEN trimmed of trailing zero lengths
    in RFC order down to 4. ``bits``: its size after the 3 block-type bits."""

    def __init__(self, litlen, dist):
        self.hlit, self.hdist = len(litlen), len(dist)
        values = list(litlen) + list(dist)
        self.tokens = []   # (code-length symbol, extra-bit value)
        i = 0
        while i < len(values):
            v, run = values[i], 1
            while i + run < len(values) and values[i + run] == v:
                run += 1
            left = run
            if v == 0:
                while left >= 11:
                    r = min(left, 138)
                    self.tokens.append((18, r - 11))
                    left -= r
                if left >= 3:
                    self.tokens.append((17, left - 3))
                    left = 0
                self.tokens += [(0, 0)] * left
            else:
                self.tokens.append((v, 0))
                left -= 1
                while left >= 3:
                    r = min(left, 6)
                    self.tokens.append((16, r - 3))
                    left -= r
                self.tokens += [(v, 0)] * left
            i += run
        freq = [0] * 19
        for s, _ in self.tokens:
            freq[s] += 1
        self.clen_len = _huffman_lengths(freq, 7)
        self.clen_code = _canonical_codes(self.clen_len)
        self.hclen = 19
        while self.hclen > 4 and self.clen_len[_CLEN_ORDER[self.hclen - 1]] == 0:
            self.hclen -= 1
        self.bits = 14 + 3 * self.hclen + sum(self.clen_len[s] + _CLEN_EXTRA.get(s, 0) for s, _ in self.tokens)

    def write(self, w):
        w.put(2 << 1, 3)   # BFINAL 0, BTYPE 10 (dynamic Huffman)
        w.put(self.hlit - 257, 5)
        w.put(self.hdist - 1, 5)
        w.put(self.hclen - 4, 4)
        for i in range(self.hclen):
            w.put(self.clen_len[_CLEN_ORDER[i]], 3)
        for s, x in self.tokens:
            w.put(self.clen_code[s], self.clen_len[s])
            if s in _CLEN_EXTRA:
                w.put(x, _CLEN_EXTRA[s])


class _BitWriter:
    """Deflate's bit order: values LSB first, bytes filled from their low bit."""

    def __init__(self):
        self.chunks, self.acc, self.count = [], 0, 0

    def put(self, value, nbits):
        self.acc |= value << self.count
        self.count += nbits
        if self.count >= 8:
            full = self.count // 8
            self.chunks.append((self.acc & ((1 << 8 * full) - 1)).to_bytes(full, "little"))
            self.acc >>= 8 * full
            self.count -= 8 * full

    def put_array(self, values, nbits):
        """``put(values[i], nbits[i])`` for every i (values < 2^32 as uint64, nbits ≤ 32)."""
        if len(values) == 0:
            return
        ends = np.cumsum(nbits, dtype=np.int64) + self.count
        starts = ends - nbits
        total = int(ends[-1])
        size = (total + 7) // 8
        index = starts >> 3
        shifted = values.astype(np.uint64) << (starts & 7).astype(np.uint64)
        out = np.zeros(size + 5, np.int64)
        for k in range(5):
            part = ((shifted >> np.uint64(8 * k)) & np.uint64(0xFF)).astype(np.float64)
            # The codes' bits are disjoint, so summing the bytes that share an index ORs them.
            out += np.bincount(index + k, weights=part, minlength=size + 5).astype(np.int64)
        out = out[:size].astype(np.uint8)
        out[0] |= self.acc
        full = total // 8
        self.chunks.append(out[:full].tobytes())
        self.acc, self.count = (int(out[full]), total % 8) if total % 8 else (0, 0)

    def align(self):
        if self.count:
            self.chunks.append(bytes([self.acc]))
        self.acc, self.count = 0, 0

    def raw(self, data):
        assert self.count == 0
        self.chunks.append(data)

    def getvalue(self):
        return b"".join(self.chunks)


def _stored_bits(n):
    """The stored form's size as blobcodec.c counts it: 42 bits per block (7 pad bits assumed)."""
    return n * 8 + max(1, -(-n // _STORED_BLOCK)) * (3 + 7 + 32)


def _rle_tokens(p):
    """The tokens of the run rule (zlib's deflate_rle, ``CB_RLE_SCAN``) in stream order:
    the first byte a literal; at each later position, a match (distance 1) of the bytes
    repeating the previous byte if there are at least 3 of them (at most 258), else a
    literal. Per maximal run of a byte v and length L: literal v, then the other L − 1 as
    matches of 258 while 258 are left, then one match of the rest if ≥ 3, else that many
    literals v. Returns (symbols, run lengths): symbol < 256 a literal, 256 a match, whose
    length is in the second array (0 for literals)."""
    n = len(p)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.concatenate(([True], p[1:] != p[:-1])))
    lengths = np.diff(np.append(starts, n))
    values = p[starts].astype(np.int64)
    rest = lengths - 1
    full, tail = rest // _MAX_RUN, rest % _MAX_RUN
    tail_is_run = tail >= 3
    per_run = 1 + full + np.where(tail_is_run, 1, tail)
    first = np.cumsum(per_run) - per_run
    owner = np.repeat(np.arange(len(starts)), per_run)
    j = np.arange(int(per_run.sum())) - first[owner]
    f, t, is_run_tail = full[owner], tail[owner], tail_is_run[owner]
    match_length = np.where(j == 0, 0, np.where(j <= f, _MAX_RUN, np.where(is_run_tail, t, 0)))
    symbols = np.where(match_length > 0, 256, values[owner])
    return symbols, match_length


class _PlanePlan:
    """How one plane is written and its exact size in bits (stored: an upper bound)."""
    STORED, LITERALS, RUNS = 0, 1, 2

    def __init__(self, mode, bits, lit_len=None, header=None, tokens=None):
        self.mode, self.bits, self.lit_len, self.header, self.tokens = mode, bits, lit_len, header, tokens


def _plan_literals(hist):
    freq = list(hist) + [1]   # 256: end of block
    lit_len = _huffman_lengths(freq, 15)
    header = _DynamicHeader(lit_len, [0])
    bits = 3 + header.bits + sum(f * n for f, n in zip(freq, lit_len))
    return _PlanePlan(_PlanePlan.LITERALS, bits, lit_len, header)


def _plan_runs(p):
    symbols, match_length = _rle_tokens(p)
    len_code = np.searchsorted(_LEN_BASE, match_length, side="right") - 1
    freq = np.bincount(np.where(symbols == 256, 257 + len_code, symbols), minlength=286).tolist()
    freq[256] = 1
    hlit = 286
    while hlit > 257 and freq[hlit - 1] == 0:
        hlit -= 1
    lit_len = _huffman_lengths(freq[:hlit], 15)
    # Distance code 0 (distance 1) is the only one used; a second code of length 1 keeps
    # the distance code complete.
    header = _DynamicHeader(lit_len, [1, 1])
    matches = match_length > 0
    extra = int(_LEN_EXTRA[len_code[matches]].sum())
    bits = 3 + header.bits + extra + sum(f * n for f, n in zip(freq, lit_len)) + int(matches.sum())
    return _PlanePlan(_PlanePlan.RUNS, bits, lit_len, header, (symbols, match_length, len_code))


def _repeats(p):
    """Bytes equal to the byte before them."""
    return int(np.count_nonzero(p[1:] == p[:-1]))


def _plan_plane(p):
    """``plan_plane`` in blobcodec.c: the smallest of stored, literals and runs by exact
    count (stored on ties; runs tried only when at least half the bytes repeat). A plane
    of more than 4 × 8192 bytes is stored without more analysis if, on 4 chunks of 8192
    bytes (chunk k at ⌊k·(n − 8192)/3⌋), literals cost ≥ 97% of 8 bits a byte and fewer
    than half the chunks' bytes repeat (counted within each chunk)."""
    n = len(p)
    best = _PlanePlan(_PlanePlan.STORED, _stored_bits(n))
    if n == 0:
        return best
    if n > _PLANE_SAMPLE_CHUNKS * _PLANE_SAMPLE_BYTES:
        hist = np.zeros(256, np.int64)
        repeats = 0
        for k in range(_PLANE_SAMPLE_CHUNKS):
            start = k * (n - _PLANE_SAMPLE_BYTES) // (_PLANE_SAMPLE_CHUNKS - 1)
            chunk = p[start:start + _PLANE_SAMPLE_BYTES]
            hist += np.bincount(chunk, minlength=256)
            repeats += _repeats(chunk)
        sample_bits = _PLANE_SAMPLE_CHUNKS * _PLANE_SAMPLE_BYTES * 8
        if (_plan_literals(hist.tolist()).bits * 100 >= sample_bits * 97
                and repeats * 2 < _PLANE_SAMPLE_CHUNKS * _PLANE_SAMPLE_BYTES):
            return best
    literals = _plan_literals(np.bincount(p, minlength=256).tolist())
    if literals.bits < best.bits:
        best = literals
    if _repeats(p) * 2 >= n:
        runs = _plan_runs(p)
        if runs.bits < best.bits:
            best = runs
    return best


def _plane_stream(data, planes):
    """tt-ckpt's byte-plane zlib stream (§8, ``cb_zlib_planes`` with the FAST effort) of
    ``data``, cut into ``planes`` equal planes: header 78 01; per plane its stored blocks,
    literal block or run block (all non-final); an empty final fixed-Huffman block; the
    big-endian Adler-32 of ``data``."""
    buf = np.frombuffer(data, np.uint8)
    n = len(buf) // planes
    w = _BitWriter()
    w.raw(b"\x78\x01")
    for k in range(planes):
        p = buf[k * n:(k + 1) * n]
        if n == 0:
            continue
        plan = _plan_plane(p)
        if plan.mode == _PlanePlan.STORED:
            for i in range(0, n, _STORED_BLOCK):
                block = p[i:i + _STORED_BLOCK]
                w.put(0, 3)   # BFINAL 0, BTYPE 00
                w.align()
                w.raw(struct.pack("<HH", len(block), len(block) ^ 0xFFFF) + block.tobytes())
            continue
        plan.header.write(w)
        lit_len = np.array(plan.lit_len, np.int64)
        lit_code = np.array(_canonical_codes(plan.lit_len), np.uint64)
        if plan.mode == _PlanePlan.LITERALS:
            symbols = np.append(p.astype(np.int64), 256)
            w.put_array(lit_code[symbols], lit_len[symbols])
        else:
            symbols, match_length, len_code = plan.tokens
            matches = match_length > 0
            sym = np.where(matches, 257 + len_code, symbols)
            extra_len = np.where(matches, _LEN_EXTRA[len_code], 0)
            extra = np.where(matches, match_length - _LEN_BASE[len_code], 0).astype(np.uint64)
            code_len = lit_len[sym]
            # A match: its length code, the extra bits, then distance code 0 (one 0 bit).
            values = lit_code[sym] | (extra << code_len.astype(np.uint64))
            nbits = code_len + extra_len + matches
            w.put_array(np.append(values, lit_code[256]), np.append(nbits, lit_len[256]))
    w.put(1 | 1 << 1, 3)   # BFINAL 1, BTYPE 01 (fixed Huffman)
    w.put(0, 7)            # end of block: code 256 is seven 0 bits
    w.align()
    w.raw(struct.pack(">I", zlib.adler32(data)))
    return w.getvalue()


def _sample(raw, n):
    """§8's filter sample: 4 chunks of 1024 elements, chunk k at element ⌊k·(n − 1024)/3⌋."""
    m = SAMPLE_CHUNK_ELEMENTS
    return b"".join(raw[4 * (k * (n - m) // (SAMPLE_CHUNKS - 1)):4 * (k * (n - m) // (SAMPLE_CHUNKS - 1) + m)]
                    for k in range(SAMPLE_CHUNKS))


def _compress_tensor(raw, n, level, strategy, forced, compression="fast"):
    """(stored bytes, filter name) by the spec's rule (§8), or with the forced filter."""
    if compression == "none":
        return _stored_stream(_shuffle(raw) if forced == "shuffle" else raw), forced or "none"
    if compression == "fast":
        def stream(f, data):
            return _plane_stream(_shuffle(data), 4) if f == "shuffle" else _plane_stream(data, 1)
    else:
        def stream(f, data):
            return _deflate(_shuffle(data) if f == "shuffle" else data, level, strategy)
    if forced is not None:
        return stream(forced, raw), forced
    if n <= EXACT_CHOICE_LIMIT:
        plain, shuffled = stream("none", raw), stream("shuffle", raw)
        return (shuffled, "shuffle") if len(shuffled) < len(plain) else (plain, "none")
    sample = _sample(raw, n)
    filt = "shuffle" if len(stream("shuffle", sample)) < len(stream("none", sample)) else "none"
    return stream(filt, raw), filt


def encode(checkpoint, path="<memory>", level=DEFAULT_LEVEL, strategy=DEFAULT_STRATEGY, filter=None,
           version=(MAJOR, MINOR), compression="fast"):
    """The bytes of ``checkpoint`` as a .ttc file. Validates first, with the reader's own
    checks: a checkpoint that would not read back raises ``FormatError`` (kind
    ``invalidCheckpoint``) naming the field or tensor, and nothing is produced.
    ``version=(1, 0)`` writes what a format-1.0 writer wrote: minor 0 and no hash section.
    ``compression``: ``"fast"`` (the default: tt-ckpt's byte-plane encoding, §8, the bytes
    of its default writer), ``"none"`` (stored blocks, the bytes of ``tt-ckpt train
    --compression none``) or ``"zlib"`` (zlib's deflate at ``level`` with ``strategy``:
    tt-ckpt's 1.0 writer, and its API's ``zlib`` encoding); ``level`` and ``strategy``
    apply to ``"zlib"`` only. tt-ckpt's ``small`` encoding (``fast`` plus zlib's level-9
    deflate per plane) is not implemented here; every encoding reads the same."""
    def invalid(message):
        raise FormatError(path, "invalidCheckpoint", f"cannot write: {message}")
    if compression not in ("fast", "zlib", "none"):
        invalid(f"compression {compression!r} is not fast, zlib or none")
    if not (isinstance(level, int) and 0 <= level <= 9):
        invalid(f"compression level {level!r} is not in 0...9")
    if filter not in (None, "none", "shuffle"):
        invalid(f"filter {filter!r} is not none or shuffle")
    c = checkpoint
    items = _metadata_items(c)
    try:
        _check_metadata(items, lambda kind, message: invalid(message))
    except (TypeError, ValueError, AttributeError) as e:
        invalid(f"metadata: {e}")
    names = set()
    arrays = []
    for t in c.tensors:
        q = f"tensor {_quote(t.name)}"
        nb = len(t.name.encode("utf-8"))
        if not 1 <= nb <= MAX_NAME:
            invalid(f"{q}: name length {nb} is not in 1...{MAX_NAME}")
        if t.name in names:
            invalid(f"{q}: name appears twice")
        names.add(t.name)
        if t.role not in ROLE_CODES:
            invalid(f"{q}: role {t.role!r} is not one of {', '.join(ROLE_CODES)}")
        values = np.asarray(t.values)
        if values.dtype != np.float32:
            invalid(f"{q}: dtype {values.dtype}, expected float32 (convert explicitly)")
        if values.ndim > MAX_RANK or any(d < 1 for d in values.shape):
            invalid(f"{q}: shape {list(values.shape)} needs rank ≤ {MAX_RANK} and dimensions ≥ 1")
        # np.ascontiguousarray would turn a rank-0 tensor into shape (1,): keep the rank.
        arrays.append(np.asarray(values, order="C").astype("<f4", copy=False))
    if len(c.tensors) > MAX_TENSORS:
        invalid(f"{len(c.tensors)} tensors exceeds the cap {MAX_TENSORS}")
    _check_tensor_set(c.config, [(t.name, t.role, tuple(a.shape)) for t, a in zip(c.tensors, arrays)],
                      lambda kind, message: invalid(message), c.trace)
    if version not in ((1, 0), (1, 1)):
        invalid(f"format version {version} is not one this writer writes")

    meta = _encode_metadata(items, invalid)
    blobs, entries, digests = [], [], []
    for t, a in zip(c.tensors, arrays):
        raw = a.tobytes()
        stored, filt = _compress_tensor(raw, a.size, level, strategy, filter, compression)
        blobs.append(stored)
        entries.append((t, a.shape, stored, filt, zlib.crc32(raw), len(raw)))
        digests.append(hashlib.sha256(raw).digest())

    def directory(offsets):
        out = [struct.pack("<Q", len(entries))]
        for (t, shape, stored, filt, raw_crc, raw_len), off in zip(entries, offsets):
            nb = t.name.encode("utf-8")
            out.append(struct.pack("<I", len(nb)) + nb)
            out.append(bytes([ROLE_CODES[t.role], 0, 1, FILTER_CODES[filt], len(shape)]))
            out.append(b"".join(struct.pack("<Q", d) for d in shape))
            out.append(struct.pack("<QQQII", off, len(stored), raw_len, raw_crc, zlib.crc32(stored)))
        return b"".join(out)

    # §4.2: the hash section (not in a 1.0 file).
    hashes = b"" if version == (1, 0) else struct.pack("<Q", len(digests)) + b"".join(digests)
    sections = 2 if version == (1, 0) else 3
    # Entry sizes do not depend on offsets, so the header length is known before them.
    header_length = sections * 12 + len(meta) + len(directory([0] * len(entries))) + len(hashes)
    if header_length > MAX_HEADER:
        invalid(f"header would be {header_length} bytes, more than the cap {MAX_HEADER}")
    offsets, off = [], 32 + header_length
    for b in blobs:
        offsets.append(off)
        off += len(b)
    tdir = directory(offsets)
    header = (struct.pack("<IQ", TAG_META, len(meta)) + meta + struct.pack("<IQ", TAG_TDIR, len(tdir)) + tdir)
    if version != (1, 0):
        header += struct.pack("<IQ", TAG_HASH, len(hashes)) + hashes
    assert len(header) == header_length
    pre = MAGIC + struct.pack("<HHIQI", version[0], version[1], 0, header_length, zlib.crc32(header))
    pre += struct.pack("<I", zlib.crc32(pre))
    return b"".join([pre, header] + blobs)


def write(checkpoint, path, **options):
    """Writes ``checkpoint`` to ``path`` atomically, as tt-ckpt does (§8): a temporary
    ``.NAME.tmp-PID-HEX`` in the target's directory (O_EXCL, mode 0644 before umask),
    fsync, rename over the target, fsync of the directory. On any failure before the rename
    the temporary file is removed and an existing file is left untouched. A read-only target
    is not replaced. Options as ``encode``. Raises ``FormatError`` (``invalidCheckpoint``
    or ``writeFailed``)."""
    path = os.fspath(path)
    data = encode(checkpoint, path=path, **options)

    def failed(message):
        raise FormatError(path, "writeFailed", message)
    directory, base = os.path.split(path)
    if base in ("", ".", ".."):
        failed("not a file path")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        failed(f"cannot stat: {e.strerror or e}")
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            failed("is a directory")
        if not stat.S_ISREG(st.st_mode):
            failed("exists and is not a regular file")
        if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            failed("the existing file is read-only; not replacing it")
    temp = os.path.join(directory, f".{base}.tmp-{os.getpid()}-{secrets.randbits(32):x}")
    fd = -1
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.rename(temp, path)
    except OSError as e:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(temp)
        except OSError:
            pass
        failed(f"save failed, previous file (if any) left unchanged: {e.strerror or e}")
    try:
        dfd = os.open(directory or ".", os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError as e:
        failed(f"saved, but the directory could not be synced, so the save may not survive a power loss: "
               f"{e.strerror or e}")
