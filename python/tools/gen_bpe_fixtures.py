#!/usr/bin/env python3
"""Writes the BPE test fixtures with Hugging Face `tokenizers` (the real thing).

    pip install tokenizers            # a small wheel; no torch
    python3 python/tools/gen_bpe_fixtures.py

Outputs, in Tests/Fixtures/bpe/ (all small; the Swift tests in Tests/TTCkptTests/Tokenizer read them):

- corpus-seed.txt        the seed lines the training corpus is generated from (below).
- trained-vocab.json, trained-merges.txt, trained-tokenizer.json
                         a ByteLevelBPETokenizer trained on the generated corpus with
                         tokenizers' `train(files)` (vocab 2000, min_frequency 2, special token
                         <|endoftext|>), saved with `save_model` and `save`.
- heldout.txt            a held-out text (bytes): hand-written cases (Unicode, emoji, CJK,
                         digits, contractions, runs of spaces and newlines, control
                         characters, <|endoftext|>) plus generated text from another seed.
- heldout-ids.json       ids of heldout.txt from tokenizers:
                           "tokenizer_json": Tokenizer.from_file(trained-tokenizer.json)
                           "vocab_merges": ByteLevelBPETokenizer(vocab.json, merges.txt)
                             (no added tokens: <|endoftext|> is ordinary text there)
                           "prefix_space": tokenizer.json with ByteLevel(add_prefix_space=True)
                           "pieces": the ByteLevel pre-tokenizer's pieces (byte-level spelled)
- unicode-classes.txt    for every Unicode scalar, whether tokenizers' regex engine (onig)
                         puts it in \\p{L}, \\p{N} and \\s: ranges "L 0041 005A".
- meta.json              versions, corpus size and FNV-1a-64 hash, training settings.

The training corpus itself (about 400 KB) is not committed: it is generated from
corpus-seed.txt by `make_corpus` with SplitMix64, and the Swift tests regenerate it with
the same code (CorpusGenerator in Tests/TTCkptTests/Support/BPEFixtures.swift) and check its length and hash against
meta.json before comparing our trainer's merges with tokenizers'.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import tokenizers
from tokenizers import ByteLevelBPETokenizer, Regex, Tokenizer, pre_tokenizers

OUT = Path(__file__).resolve().parent.parent.parent / "Tests" / "Fixtures" / "bpe"

VOCAB_SIZE = 2000
MIN_FREQUENCY = 2
SPECIAL = "<|endoftext|>"
CORPUS_SEED = 1
CORPUS_BYTES = 400_000
HELDOUT_SEED = 2
HELDOUT_GENERATED_BYTES = 6_000

# Seed lines: written for this fixture (no third-party text). A mix of English prose,
# code, other scripts, emoji, numbers and odd whitespace.
SEED_TEXT = """\
The quick brown fox jumps over the lazy dog while the cat watches from the window.
A checkpoint holds the whole state of a training run: weights, moments, and the data cursor.
It's not what you'd expect: we're storing floats as bytes, and they'll round-trip exactly.
Don't panic; I'm sure you've seen stranger formats than this one, haven't you?
Training loss fell from 5.5412 to 2.1033 after 1200 steps at a learning rate of 3e-4.
She said "hello" and he answered 'goodbye' before the train left at 10:45 p.m.
In 1969, 600 million people watched the landing; in 2024 the numbers were larger still.
Tokenizers split text into pieces, then merge frequent pairs of bytes into new tokens.
The merge with the lowest rank is applied first, and ties go to the leftmost pair.
Every byte string must decode back to itself, including invalid UTF-8 and control codes.
def train(model, data, steps=100, lr=3e-4):
    for step in range(steps):
        loss = model.forward(data.next_batch())
        loss.backward()
        optimizer.step()  # AdamW with weight decay 0.1
    return model
for (i, token) in tokens.enumerated() where token.count > 1 { print(i, token) }
let merged = zip(left, right).map { $0 + $1 }.filter { !$0.isEmpty }
if (x != NULL && x->next != NULL) { free(x->next); x->next = NULL; }
{"vocab_size": 50257, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024}
SELECT name, COUNT(*) FROM tokens WHERE length > 3 GROUP BY name ORDER BY 2 DESC;
https://example.com/path/to/file.txt?query=value&other=42#section-3
user@example.org, +1 (555) 010-0199, ID 00042-A7, version 1.2.3-rc.4
Übermäßig große Straßenbahnen fahren durch die Außenbezirke von München.
L'été dernier, nous sommes allés à la plage près de Nîmes avec nos élèves.
El niño comió piña y jalapeños mientras leía un libro en español.
Съешь же ещё этих мягких французских булок, да выпей чаю.
Γαζέες καὶ μυρτιὲς δὲν θὰ βρῶ πιὰ στὸ χρυσαφὶ ξέφωτο.
العربية لغة جميلة ويتحدث بها ملايين الناس حول العالم.
עברית נכתבת מימין לשמאל ויש בה אותיות סופיות.
हिन्दी भाषा देवनागरी लिपि में लिखी जाती है।
ภาษาไทยไม่มีการเว้นวรรคระหว่างคำในประโยค
中文文本没有空格，分词需要特别的方法。我们今天学习机器学习。
日本語のテキストには、ひらがな、カタカナ、漢字が混ざっています。
한국어 문장은 띄어쓰기를 사용합니다. 오늘 날씨가 좋네요.
Emoji: 😀 😃 😄 😁 👍🏽 👨‍👩‍👧‍👦 🇫🇷 🇯🇵 ❤️ ✨ 🚀 🎉 🤖 🧠
Math: ∀x ∈ ℝ, x² ≥ 0; ∑ᵢ aᵢ = ½ · π ≈ 1.5708; α→β ⇒ γ ≠ δ ± ε
Prices: $19.99, €5,00, £3.50, ¥1200, ₹499 — 20% off (limited time)!
Digits of other scripts: ٠١٢٣٤٥٦٧٨٩ ०१२३४५६७८९ ０１２３４５６７８９ Ⅰ Ⅱ Ⅻ ⅷ
Tabs	between	words	and  double  spaces  and   triple   spaces.
        deeply indented line with eight spaces
    four spaces, then a tab:	done
trailing spaces here   
a\u00a0non-breaking space, an ideographic\u3000space, a thin\u2009space.
e\u0301t\u0301e\u0301 written with combining accents, and n\u0303 too.
rock'n'roll isn't dead; the '90s and the ’80s were loud.
'''quoted''' and ''double'' and 'single' apostrophes, 's 't 're 've 'm 'll 'd.
==================== ---------- ********** __________ ..........
0x7F 0xFF 0b1010 1e-9 6.02214076e23 -0.0 +inf NaN 1_000_000
"""


def splitmix64(state):
    """One SplitMix64 step: returns (new_state, output)."""
    mask = (1 << 64) - 1
    state = (state + 0x9E3779B97F4A7C15) & mask
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return state, z ^ (z >> 31)


class Rng:
    def __init__(self, seed):
        self.state = seed

    def below(self, n):
        self.state, z = splitmix64(self.state)
        return z % n


SEPARATORS = [b" ", b" ", b" ", b"  ", b"\t", b", ", b" - ", b"; ", b"   "]
ENDINGS = [b"\n", b"\n", b"\n", b"\n", b"\n", b"\n", b"\n\n", b"\r\n", b"  \n", b"\n\n\n", b" \n\t\n"]


def make_corpus(seed_lines, seed, target):
    """Deterministic text from slices of the seed lines; mirrored in Swift (CorpusGenerator)."""
    rng = Rng(seed)
    out = bytearray()
    while len(out) < target:
        parts = []
        for _ in range(1 + rng.below(3)):
            words = seed_lines[rng.below(len(seed_lines))].split(b" ")
            start = rng.below(len(words))
            length = 1 + rng.below(len(words) - start)
            parts.append(b" ".join(words[start:start + length]))
            if rng.below(4) == 0:
                parts.append(str(rng.below(10 ** rng.below(9))).encode())
        line = bytearray()
        for k, part in enumerate(parts):
            if k > 0:
                line += SEPARATORS[rng.below(len(SEPARATORS))]
            line += part
        out += line + ENDINGS[rng.below(len(ENDINGS))]
    return bytes(out)


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & ((1 << 64) - 1)
    return h


HANDWRITTEN = (
    "Hello world! It's a test: don't, won't, I'm, you're, we've, they'll, he'd. IT'S LOUD, DON'T.\n"
    "    indented code\n\tdef f(x):\n\t\treturn x**2  # comment\n"
    "Numbers: 0 7 42 1234567890 3.14159 -273.15 1,000,000 ٣٤٥ १२३ １２３ ² ½ Ⅻ 2024-06-01T12:00:00Z\n"
    "Emoji: 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇯🇵 ❤️ 😀😃😄 ✨🚀 🫠\n"
    "CJK: 中文分词测试，日本語のテキスト、한국어 텍스트입니다。機械学習\n"
    "Scripts: Ελληνικά Русский текст العربية עברית हिन्दी ไทย ქართული Հայերեն\n"
    "Spaces: a  b   c    d\n\n\n\nend   \n   \t \u00a0 x\u3000y\u2028z\u0085w \u200b q\x0b\x0c r\r\n"
    "Apostrophes: 's 't 're 've 'm 'll 'd ''s '''' rock'n'roll ’s 'S 'RE\n"
    "Special: first doc<|endoftext|>second doc <|endoftext|> third<|endoftext|><|endoftext|>\n"
    "Combining: e\u0301 n\u0303 a\u0308 \u0915\u093f \ufe0f\n"
    "Controls: \x00\x01\x1b[31mred\x1b[0m \x7f \x1c\x1d\x1e\x1f end\n"
    "Runs: " + "=" * 40 + " " + " " * 20 + "x" + "\n" * 10 +
    "Near-special: <|endoftext| <|endoftext|>> <<|endoftext|>\n"
    "Mixed: abc123def ４５６ｘｙｚ x²y³ H₂O 3½ fin\u00adal soft\u00adhyphen\n"
)
HELDOUT_TAIL = "the end with trailing spaces   "


def unicode_class_ranges(pattern):
    """Code point ranges that tokenizers' regex engine matches with `pattern` (one scalar)."""
    cps = [c for c in range(0x110000) if not (0xD800 <= c <= 0xDFFF)]
    text = "".join(map(chr, cps))
    pieces = pre_tokenizers.Split(Regex(pattern), behavior="removed").pre_tokenize_str(text)
    matched = bytearray([1]) * len(cps)
    for piece, (a, b) in pieces:
        assert b - a == len(piece), "offsets are not in characters"
        matched[a:b] = bytes(b - a)
    ranges = []
    for i, c in enumerate(cps):
        if not matched[i]:
            continue
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return ranges


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    seed_bytes = SEED_TEXT.encode("utf-8")
    (OUT / "corpus-seed.txt").write_bytes(seed_bytes)
    seed_lines = [line for line in seed_bytes.split(b"\n") if line]

    corpus = make_corpus(seed_lines, CORPUS_SEED, CORPUS_BYTES)
    with tempfile.TemporaryDirectory() as tmp:
        corpus_path = os.path.join(tmp, "corpus.txt")
        with open(corpus_path, "wb") as f:
            f.write(corpus)
        bpe = ByteLevelBPETokenizer()
        bpe.train([corpus_path], vocab_size=VOCAB_SIZE, min_frequency=MIN_FREQUENCY,
                  show_progress=False, special_tokens=[SPECIAL])
        if len(sys.argv) > 1 and sys.argv[1] == "--write-corpus":
            Path(sys.argv[2]).write_bytes(corpus)
    bpe.save_model(str(OUT), "trained")
    bpe.save(str(OUT / "trained-tokenizer.json"))

    heldout = HANDWRITTEN + make_corpus(seed_lines, HELDOUT_SEED, HELDOUT_GENERATED_BYTES).decode("utf-8") + HELDOUT_TAIL
    (OUT / "heldout.txt").write_bytes(heldout.encode("utf-8"))

    from_json = Tokenizer.from_file(str(OUT / "trained-tokenizer.json"))
    from_files = ByteLevelBPETokenizer(str(OUT / "trained-vocab.json"), str(OUT / "trained-merges.txt"))
    prefix = Tokenizer.from_file(str(OUT / "trained-tokenizer.json"))
    prefix.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    pieces = pre_tokenizers.ByteLevel(add_prefix_space=False).pre_tokenize_str(heldout)
    ids = {
        "tokenizer_json": from_json.encode(heldout).ids,
        "vocab_merges": from_files.encode(heldout).ids,
        "prefix_space": prefix.encode(heldout).ids,
        "pieces": [p for p, _ in pieces],
    }
    assert from_json.decode(ids["tokenizer_json"], skip_special_tokens=False) == heldout
    with open(OUT / "heldout-ids.json", "w", encoding="utf-8") as f:
        json.dump(ids, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")

    with open(OUT / "unicode-classes.txt", "w", encoding="ascii") as f:
        f.write("# Scalars matched by tokenizers' regex engine (onig), per class: CLASS FIRST LAST (hex)\n")
        for name, pattern in (("L", r"\p{L}"), ("N", r"\p{N}"), ("S", r"\s")):
            for a, b in unicode_class_ranges(pattern):
                f.write(f"{name} {a:04X} {b:04X}\n")

    meta = {
        "tokenizers_version": tokenizers.__version__,
        "python_version": sys.version.split()[0],
        "corpus_seed": CORPUS_SEED,
        "corpus_target_bytes": CORPUS_BYTES,
        "corpus_bytes": len(corpus),
        "corpus_fnv1a64": f"{fnv1a64(corpus):016x}",
        "heldout_seed": HELDOUT_SEED,
        "heldout_generated_bytes": HELDOUT_GENERATED_BYTES,
        "vocab_size": VOCAB_SIZE,
        "min_frequency": MIN_FREQUENCY,
        "special_tokens": [SPECIAL],
        "training": "ByteLevelBPETokenizer().train([corpus file], vocab_size, min_frequency, special_tokens)",
    }
    with open(OUT / "meta.json", "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {OUT} ({total} bytes), tokenizers {tokenizers.__version__}")


if __name__ == "__main__":
    main()
