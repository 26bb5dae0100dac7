#!/usr/bin/env python3
"""transformers' mean cross-entropy over a text file in `tt-ckpt eval`'s windows, to compare the two.

    python3 python/tools/hf_eval.py DIR FILE

Loads `GPT2LMHeadModel` and `GPT2TokenizerFast` from DIR (e.g. a `tt-ckpt export --to hf`
directory, or the one `tt-ckpt import --from hf` read), tokenizes FILE as it is (no special
tokens added), cuts the ids into consecutive windows with stride T = n_positions (inputs
t[s..s+T), targets t[s+1..s+T+1), the last window shorter) and prints the mean of
-log p(target) over all targets, in float64 from the model's float32 logits. Needs torch and
transformers (not a CI dependency).
"""
import math
import sys

import torch
from transformers import GPT2LMHeadModel, GPT2TokenizerFast


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        sys.exit(2)
    d, path = sys.argv[1], sys.argv[2]
    model = GPT2LMHeadModel.from_pretrained(d).eval()
    with open(path, encoding="utf-8") as f:
        ids = GPT2TokenizerFast.from_pretrained(d)(f.read())["input_ids"]
    T, total, n = model.config.n_positions, 0.0, 0
    with torch.no_grad():
        for s in range(0, len(ids) - 1, T):
            y = torch.tensor(ids[s + 1:s + T + 1])
            x = torch.tensor(ids[s:s + len(y)])
            logits = model(x[None]).logits[0].double()
            total += torch.nn.functional.cross_entropy(logits, y, reduction="sum").item()
            n += len(y)
    print(f"transformers: loss {total / n:.6f}, perplexity {math.exp(total / n):.4f}, tokens {n}")


if __name__ == "__main__":
    main()
