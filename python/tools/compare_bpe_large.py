#!/usr/bin/env python3
"""A larger trainer comparison (not committed, not in CI): writes DIR/corpus.txt, a few MB of
Python standard-library source (code and English docstrings) plus the fixture generator's
multilingual text, trains tokenizers' ByteLevelBPETokenizer on it with vocab 8000, and saves
DIR/tokenizer.json and DIR/meta.json (with tokenizers' training time). Then

    BPE_LARGE_DIR=DIR swift test -c release --filter largeCorpusAgreesWithTokenizers   # package root

trains ours on the same file and compares.

    python3 python/tools/compare_bpe_large.py /tmp/bpe-large [stdlib MB] [vocab size]
"""
import json
import os
import sys
import sysconfig
import time
from pathlib import Path

from tokenizers import ByteLevelBPETokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_bpe_fixtures as g  # noqa: E402

out = Path(sys.argv[1])
megabytes = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
vocab_size = int(sys.argv[3]) if len(sys.argv) > 3 else 8000
out.mkdir(parents=True, exist_ok=True)
stdlib = Path(sysconfig.get_paths()["stdlib"])
corpus = bytearray()
for path in sorted(stdlib.glob("*.py")):
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        continue
    corpus += data
    if len(corpus) >= megabytes * 1_000_000:
        break
seed_lines = [line for line in g.SEED_TEXT.encode().split(b"\n") if line]
corpus += g.make_corpus(seed_lines, 3, 1_000_000)
(out / "corpus.txt").write_bytes(corpus)
bpe = ByteLevelBPETokenizer()
start = time.perf_counter()
bpe.train([str(out / "corpus.txt")], vocab_size=vocab_size, min_frequency=2, show_progress=False,
          special_tokens=["<|endoftext|>"])
seconds = time.perf_counter() - start
bpe.save(str(out / "tokenizer.json"))
meta = {"vocab_size": vocab_size, "min_frequency": 2, "corpus_bytes": len(corpus), "tokenizers_seconds": seconds,
        "threads": os.environ.get("RAYON_NUM_THREADS", "default")}
(out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
print(meta)
