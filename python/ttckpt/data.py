"""Corpus, tokenizers and the batch sampler of spec/TRAINING.md, in plain Python + numpy.

With a ``random.Random`` restored from a checkpoint (``GeneratorState.to_random()``),
``BatchSampler.next_batch`` draws exactly the windows tt-ckpt would draw next: tt-ckpt's
generator is CPython's MT19937 and it draws offsets as ``random.randrange(n − T)``.

    ckpt = ttckpt.read("run.ttc")
    data = load_corpus("corpus.txt", ckpt.vocab)           # or tutorial_data()
    check_data(ckpt, data, "corpus.txt", "run.ttc")        # refuses other data, like resume
    sampler = BatchSampler(data.tokens, ckpt.config.context, ckpt.training.batch_size, ckpt.vocab.pad_id)
    rng = ckpt.training.rng.to_random()
    batch = sampler.next_batch(rng)                        # Batch(tokens, targets), (B, S) int64
"""
import hashlib
import os
import re
from dataclasses import dataclass

import numpy as np

from .format import DataIdentity, Vocabulary

__all__ = ["DataError", "TrainingData", "Batch", "BatchSampler", "encode", "load_corpus", "tutorial_data",
           "check_data", "IGNORE", "TUTORIAL_NAME", "TUTORIAL_TEXT", "TUTORIAL_TOKENS"]

IGNORE = -1
TUTORIAL_NAME = "builtin:tutorial"
TUTORIAL_TEXT = "<BOS> I like transformers <EOS>"
TUTORIAL_TOKENS = ["<PAD>", "<BOS>", "<EOS>", "I", "like", "transformers"]
MAX_CORPUS_BYTES = 1 << 32
# Unicode's White_Space property (PropList.txt), which tt-ckpt splits words on. Not
# str.split(): Python's isspace() also counts U+001C...U+001F, which are not White_Space.
_WHITE_SPACE = re.compile("[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


class DataError(Exception):
    """A corpus that cannot be used: ``str(e)`` is ``SOURCE: problem`` (one line), as
    tt-ckpt prints it."""

    def __init__(self, source, message):
        super().__init__(f"{source}: {message}")
        self.source, self.message = str(source), message


@dataclass
class TrainingData:
    identity: DataIdentity
    tokens: np.ndarray  # (n,) int64


@dataclass
class Batch:
    tokens: np.ndarray   # (B, S) int64 input ids
    targets: np.ndarray  # (B, S) int64 target ids, IGNORE (-1) where the loss skips them

    @property
    def target_count(self):
        return int((self.targets != IGNORE).sum())


def _quoted(symbol):
    out = []
    for ch in symbol:
        o = ord(ch)
        if ch == "\t":
            out.append("\\t")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch in "\"\\":
            out.append("\\" + ch)
        elif o < 0x20 or 0x7F <= o <= 0x9F:
            out.append(f"\\u{{{o:x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _decode(raw, source):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(source, f"is not valid UTF-8 (bad byte at offset {e.start}); "
                                f"use --tokenizer byte for binary data") from None


def encode(raw, vocab, source):
    """Token ids (int64) of corpus bytes under a checkpoint's vocabulary, as tt-ckpt's
    ``Vocabulary.encode``: word = runs of non-White_Space scalars, char = Unicode scalars,
    byte = bytes. Unknown symbols raise ``DataError`` listing the first five."""
    if vocab.kind == "byte":
        if len(vocab.tokens) != 256:
            raise DataError(source, f"byte vocabulary has {len(vocab.tokens)} tokens, not 256")
        return np.frombuffer(raw, np.uint8).astype(np.int64)
    text = _decode(raw, source)
    index = {}
    if vocab.kind == "char":
        for i, tok in enumerate(vocab.tokens):
            if len(tok) == 1:
                index.setdefault(tok, i)
        symbols = text
    else:
        for i, tok in enumerate(vocab.tokens):
            index.setdefault(tok, i)
        symbols = [w for w in _WHITE_SPACE.split(text) if w]
    ids, unknown = [], {}
    for s in symbols:
        i = index.get(s)
        if i is None:
            unknown.setdefault(s, None)
        else:
            ids.append(i)
    if unknown:
        first = list(unknown)[:5]
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        noun = "symbol" if len(unknown) == 1 else "symbols"
        raise DataError(source, f"{len(unknown)} {noun} not in the checkpoint's vocabulary: "
                                f"{', '.join(map(_quoted, first))}{more}")
    return np.asarray(ids, np.int64)


def load_corpus(path, vocab):
    """Reads and encodes a corpus file; the identity's name is its last path component."""
    path = os.fspath(path)
    try:
        if os.path.isdir(path):
            raise DataError(path, "is a directory, not a file")
        with open(path, "rb") as f:
            raw = f.read(MAX_CORPUS_BYTES + 1)
    except OSError as e:
        raise DataError(path, (e.strerror or str(e)).lower()) from None
    if not raw:
        raise DataError(path, "is empty")
    if len(raw) > MAX_CORPUS_BYTES:
        raise DataError(path, f"is larger than {MAX_CORPUS_BYTES} bytes")
    tokens = encode(raw, vocab, path)
    if len(tokens) < 2:
        raise DataError(path, f"has {len(tokens)} token{'' if len(tokens) == 1 else 's'}; training needs at least 2")
    name = path.rstrip("/").split("/")[-1] or path
    return TrainingData(DataIdentity(name, len(raw), len(tokens), hashlib.sha256(raw).hexdigest()), tokens)


def tutorial_data():
    """The built-in data: the series' sentence, [1, 3, 4, 5, 2]."""
    raw = TUTORIAL_TEXT.encode()
    tokens = encode(raw, Vocabulary("word", TUTORIAL_TOKENS), TUTORIAL_NAME)
    return TrainingData(DataIdentity(TUTORIAL_NAME, len(raw), len(tokens), hashlib.sha256(raw).hexdigest()), tokens)


def resolve_data(ckpt, path, checkpoint_path):
    """The data to continue ``ckpt`` on, as ``tt-ckpt resume`` resolves it: the corpus at
    ``path``, or without one the built-in data when the checkpoint records it (or records
    nothing and has the tutorial vocabulary). Then ``check_data``."""
    if path is not None:
        data = load_corpus(path, ckpt.vocab)
    else:
        recorded = ckpt.training.data
        if (recorded is None or recorded.name == TUTORIAL_NAME) and ckpt.vocab.kind == "word" \
                and list(ckpt.vocab.tokens) == TUTORIAL_TOKENS:
            data = tutorial_data()
        elif recorded is not None:
            raise DataError("--data", f"required: {checkpoint_path} was trained on {recorded.name}; give that file")
        else:
            raise DataError("--data", f"required: {checkpoint_path} has no built-in data; give a corpus to train on")
    check_data(ckpt, data, path if path is not None else "built-in data", checkpoint_path)
    return data


def check_data(ckpt, data, subject, checkpoint_path):
    """Refuses data other than the checkpoint records (byte count, token count, SHA-256)."""
    recorded = ckpt.training.data
    if recorded is None or data.identity.matches(recorded):
        return

    def short(d):
        return f"{d.name}, {d.byte_count} bytes, {d.token_count} tokens, sha256 {d.sha256[:12]}…"
    raise DataError(subject, f"is not the data {checkpoint_path} was trained on "
                             f"(recorded: {short(recorded)}; given: {short(data.identity)})")


class BatchSampler:
    """spec/TRAINING.md "Batches". A stream of n ≥ T+1 tokens: each of the B sequences is a
    window of T+1 tokens at offset ``rng.randrange(n − T)``, drawn in sequence order; inputs
    are its first T tokens, targets its last T. A shorter stream: every sequence is the whole
    stream padded with <PAD> to T (when the vocabulary has it), targets shifted by one then
    IGNORE, nothing drawn. Targets equal to <PAD> are IGNORE. ``windows_drawn`` grows by B."""

    def __init__(self, tokens, context, batch_size, pad_id):
        tokens = np.asarray(tokens, np.int64)
        if len(tokens) < 2 or context < 1 or batch_size < 1:
            raise ValueError("a sampler needs ≥ 2 tokens, context ≥ 1 and batch size ≥ 1")
        self.tokens, self.context, self.batch_size, self.pad_id = tokens, context, batch_size, pad_id

    @property
    def uses_whole_stream(self):
        return len(self.tokens) < self.context + 1

    @property
    def sequence_length(self):
        if self.uses_whole_stream:
            return len(self.tokens) if self.pad_id is None else self.context
        return self.context

    def offsets(self, rng):
        """The B window offsets of the next batch (None for a short stream); advances rng."""
        if self.uses_whole_stream:
            return None
        n, T = len(self.tokens), self.context
        return [rng.randrange(n - T) for _ in range(self.batch_size)]

    def next_batch(self, rng):
        """The next (B, S) batch; advances ``rng`` exactly as tt-ckpt does (B draws, or none)."""
        S, n, B = self.sequence_length, len(self.tokens), self.batch_size
        offsets = self.offsets(rng)
        if offsets is None:
            pad = self.pad_id if self.pad_id is not None else 0
            row_tokens = np.array([self.tokens[i] if i < n else pad for i in range(S)], np.int64)
            row_targets = np.array([self.tokens[i + 1] if i + 1 < n else IGNORE for i in range(S)], np.int64)
            tokens, targets = np.tile(row_tokens, (B, 1)), np.tile(row_targets, (B, 1))
        else:
            idx = np.asarray(offsets, np.int64)[:, None] + np.arange(self.context + 1)[None, :]
            windows = self.tokens[idx]
            tokens, targets = windows[:, :-1].copy(), windows[:, 1:].copy()
        if self.pad_id is not None:
            targets[targets == self.pad_id] = IGNORE
        return Batch(tokens, targets)
