#!/usr/bin/env python3
"""Checks a directory that `tt-ckpt export --to hf` wrote: transformers must load it and give the
expected logits.

Usage:
    python3 python/tools/check_hf_export.py DIR EXPECTED.safetensors [--tolerance 1e-5] [--no-tokenizer]

Loads `GPT2LMHeadModel.from_pretrained(DIR)` (transformers' default attention) and
`GPT2TokenizerFast.from_pretrained(DIR)`, runs EXPECTED's `input_ids` (B, T) I64 through the model
and compares the logits with EXPECTED's `logits` (B, T, V) F32 (e.g. a fixture's io.safetensors, or
a file of tt-ckpt's own logits). If EXPECTED's header metadata has `text`, the tokenizer must encode
it to exactly `input_ids` flattened row by row.

Prints max |Δ| and the relative ℓ2 ‖got − expected‖ / ‖expected‖. Exit status (like cmp):
0 the logits agree (relative ℓ2 ≤ tolerance) and the load was clean; 1 they differ, or the load
reported missing / unexpected / mismatched weights (transformers would silently re-initialize
missing ones), or the tokenizer disagrees; 2 trouble (unreadable directory or file, bad shapes).
Needs torch and transformers (not a CI dependency).
"""
import argparse
import os
import sys


def main():
    ap = argparse.ArgumentParser(description="Check a tt-ckpt Hugging Face export against expected logits.")
    ap.add_argument("dir", help="directory with config.json, model.safetensors (or an index + shards), tokenizer files")
    ap.add_argument("expected", help="safetensors file with input_ids (B, T) and logits (B, T, V)")
    ap.add_argument("--tolerance", type=float, default=1e-5, help="largest relative l2 accepted (default 1e-5)")
    ap.add_argument("--no-tokenizer", action="store_true", help="do not load the tokenizer")
    args = ap.parse_args()

    def trouble(message):
        print(f"check_hf_export: {message}", file=sys.stderr)
        sys.exit(2)

    import torch
    import transformers
    from safetensors import safe_open
    from transformers import GPT2LMHeadModel, GPT2TokenizerFast

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    try:
        with safe_open(args.expected, "pt") as f:
            keys = set(f.keys())
            if not {"input_ids", "logits"} <= keys:
                trouble(f"{args.expected}: needs tensors input_ids and logits, has {sorted(keys)}")
            input_ids = f.get_tensor("input_ids")
            expected = f.get_tensor("logits")
            text = (f.metadata() or {}).get("text")
    except SystemExit:
        raise
    except Exception as e:  # safetensors raises several types for a bad file
        trouble(f"{args.expected}: {e}")
    if input_ids.dim() != 2 or input_ids.dtype not in (torch.int64, torch.int32):
        trouble(f"{args.expected}: input_ids must be (B, T) integers, is {tuple(input_ids.shape)} {input_ids.dtype}")
    if expected.dim() != 3 or tuple(expected.shape[:2]) != tuple(input_ids.shape):
        trouble(f"{args.expected}: logits {tuple(expected.shape)} do not match input_ids {tuple(input_ids.shape)}")

    if not os.path.isdir(args.dir):
        trouble(f"{args.dir}: not a directory")
    failures = []
    try:
        model, info = GPT2LMHeadModel.from_pretrained(args.dir, output_loading_info=True, local_files_only=True)
    except Exception as e:
        trouble(f"{args.dir}: GPT2LMHeadModel.from_pretrained failed: {e}")
    for k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        if info.get(k):
            failures.append(f"from_pretrained {k}: {sorted(map(str, info[k]))}")
    if model.config.vocab_size != expected.shape[2]:
        trouble(f"{args.dir}: vocab_size {model.config.vocab_size}, expected logits have V {expected.shape[2]}")
    if input_ids.shape[1] > model.config.n_positions:
        trouble(f"{args.expected}: T {input_ids.shape[1]} exceeds n_positions {model.config.n_positions}")
    model.eval()
    with torch.no_grad():
        got = model(input_ids.long()).logits.float()
    diff = (got.double() - expected.double())
    max_abs = float(diff.abs().max())
    rel = float(diff.norm() / expected.double().norm().clamp_min(1e-300))
    ok = rel <= args.tolerance
    print(f"logits: max |Δ| {max_abs:.3g}, relative l2 {rel:.3g} ({'within' if ok else 'ABOVE'} {args.tolerance:g}); "
          f"B {input_ids.shape[0]} T {input_ids.shape[1]} V {expected.shape[2]}, "
          f"attention {model.config._attn_implementation}, transformers {transformers.__version__}, torch {torch.__version__}")
    if not ok:
        failures.append(f"logits relative l2 {rel:.3g} above {args.tolerance:g}")

    if not args.no_tokenizer:
        # transformers 5 "loads" a directory with no tokenizer files as a 1-token tokenizer, so look first.
        has = lambda name: os.path.isfile(os.path.join(args.dir, name))  # noqa: E731
        if not (has("tokenizer.json") or (has("vocab.json") and has("merges.txt"))):
            trouble(f"{args.dir}: no tokenizer files (tokenizer.json, or vocab.json and merges.txt)")
        try:
            tok = GPT2TokenizerFast.from_pretrained(args.dir, local_files_only=True)
        except Exception as e:
            trouble(f"{args.dir}: GPT2TokenizerFast.from_pretrained failed: {e}")
        if len(tok) != model.config.vocab_size:
            failures.append(f"tokenizer has {len(tok)} tokens, model vocab_size {model.config.vocab_size}")
        line = f"tokenizer: {type(tok).__name__}, {len(tok)} tokens, eos {tok.eos_token!r} = {tok.eos_token_id}"
        if text is not None:
            ids = tok(text)["input_ids"]
            want = input_ids.reshape(-1).tolist()
            same = ids == want
            line += f"; encodes the expected text to input_ids: {'yes' if same else 'NO'}"
            if not same:
                first = next((i for i, (a, b) in enumerate(zip(ids, want)) if a != b), min(len(ids), len(want)))
                failures.append(f"tokenizer encodes the text differently from position {first} "
                                f"({len(ids)} ids vs {len(want)})")
        print(line)

    for f in failures:
        print(f"check_hf_export: {args.dir}: {f}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
