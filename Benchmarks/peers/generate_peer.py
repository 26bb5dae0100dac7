#!/usr/bin/env python3
"""transformers peer for tt-ckpt's sampling benchmark: greedy generation with the KV cache, batch 1.

Usage:
    python3 Benchmarks/peers/generate_peer.py MODEL_DIR [--prompt-tokens 64] [--new-tokens 64] [--trials 3]
    python3 Benchmarks/peers/generate_peer.py --random gpt2-124m [...]

With --random, the model is GPT2LMHeadModel(GPT2Config()) (GPT-2 124M's shape: V 50257, D 768,
H 12, L 12, T 1024) with seeded random weights instead of a directory (tt-bench compares speed on
the same shape; the values do not change the cost).

Loads `GPT2LMHeadModel.from_pretrained(MODEL_DIR)` (float32, CPU, transformers' default attention,
torch's default thread count: nothing is set), builds a deterministic prompt of --prompt-tokens ids
(the tt-bench LCG: state = state·6364136223846793005 + 1442695040888963407 mod 2⁶⁴, id = (state >> 33)
mod V, from --seed), and runs `model.generate(prompt, do_sample=False, num_beams=1, use_cache=True,
max_new_tokens=N, min_new_tokens=N)` --trials times after one untimed warm-up. A streamer
timestamps every generated token, so one run gives both figures:

  ttft_ms              start of generate() → first new token (the prompt's forward pass + one argmax)
  decode_tokens_per_s  (N − 1) / (time of token N − time of token 1): the cached one-token steps
  tokens_per_s         N / (whole generate() call)

Each figure is the best (fastest) trial, like tt-bench; every trial is listed too. Prints one JSON
line, including the prompt and the generated ids, so tt-ckpt's greedy `sample` can be checked
against them. --check-no-cache also runs generate once with use_cache=False and records whether the
tokens are the same.
"""
import argparse
import json
import os
import platform
import sys
import time


def lcg_prompt(seed, n, vocab):
    state = seed
    out = []
    for _ in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out.append((state >> 33) % vocab)
    return out


def main():
    ap = argparse.ArgumentParser(description="transformers greedy-generation peer (batch 1, KV cache)")
    ap.add_argument("model_dir", nargs="?")
    ap.add_argument("--random", choices=["gpt2-124m"], help="a seeded random GPT-2 124M instead of MODEL_DIR")
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--check-no-cache", action="store_true", help="also generate without the cache and compare tokens")
    args = ap.parse_args()

    def trouble(message):
        print(f"generate_peer: {message}", file=sys.stderr)
        sys.exit(2)

    if args.prompt_tokens < 1 or args.new_tokens < 2 or args.trials < 1:
        trouble("need --prompt-tokens >= 1, --new-tokens >= 2, --trials >= 1")
    if args.random is None and (args.model_dir is None or not os.path.isdir(args.model_dir)):
        trouble(f"{args.model_dir}: not a directory")

    import torch
    import transformers
    from transformers import GPT2LMHeadModel
    from transformers.generation.streamers import BaseStreamer

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    load_start = time.perf_counter()
    if args.random:
        from transformers import GPT2Config
        torch.manual_seed(args.seed)
        model = GPT2LMHeadModel(GPT2Config()).to(torch.float32)
        args.model_dir = "random:" + args.random
    else:
        try:
            model = GPT2LMHeadModel.from_pretrained(args.model_dir, local_files_only=True, dtype=torch.float32)
        except Exception as e:
            trouble(f"{args.model_dir}: GPT2LMHeadModel.from_pretrained failed: {e}")
    model.eval()
    load_s = time.perf_counter() - load_start
    cfg = model.config
    if args.prompt_tokens + args.new_tokens > cfg.n_positions:
        trouble(f"prompt {args.prompt_tokens} + new {args.new_tokens} tokens exceed n_positions {cfg.n_positions}")

    prompt = lcg_prompt(args.seed, args.prompt_tokens, cfg.vocab_size)
    input_ids = torch.tensor([prompt], dtype=torch.int64)
    attention_mask = torch.ones_like(input_ids)

    class Clock(BaseStreamer):
        """generate() calls put() once with the prompt, then once per new token."""

        def __init__(self):
            self.times = []
            self.calls = 0

        def put(self, value):
            self.calls += 1
            if self.calls > 1:
                self.times.append(time.perf_counter())

        def end(self):
            pass

    def run(n, use_cache=True, streamer=None):
        return model.generate(input_ids, attention_mask=attention_mask, do_sample=False, num_beams=1,
                              use_cache=use_cache, max_new_tokens=n, min_new_tokens=n,
                              pad_token_id=cfg.eos_token_id if cfg.eos_token_id is not None else 0,
                              streamer=streamer)

    with torch.inference_mode():
        run(2)  # warm-up
        trials = []
        tokens = None
        for _ in range(args.trials):
            clock = Clock()
            start = time.perf_counter()
            out = run(args.new_tokens, streamer=clock)
            total = time.perf_counter() - start
            new = out[0, args.prompt_tokens:].tolist()
            if len(new) != args.new_tokens or len(clock.times) != args.new_tokens:
                trouble(f"generate returned {len(new)} tokens ({len(clock.times)} streamed), wanted {args.new_tokens}")
            if tokens is not None and new != tokens:
                trouble("greedy generation differs between trials")
            tokens = new
            trials.append({
                "ttft_ms": (clock.times[0] - start) * 1e3,
                "decode_tokens_per_s": (args.new_tokens - 1) / (clock.times[-1] - clock.times[0]),
                "tokens_per_s": args.new_tokens / total,
                "seconds": total,
            })
        no_cache_same = None
        if args.check_no_cache:
            no_cache_same = run(args.new_tokens, use_cache=False)[0, args.prompt_tokens:].tolist() == tokens

    record = {
        "peer": "transformers-generate",
        "transformers": transformers.__version__, "torch": torch.__version__, "python": platform.python_version(),
        "model_dir": args.model_dir,
        "params": sum(p.numel() for p in model.parameters()),
        "n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_embd": cfg.n_embd, "n_positions": cfg.n_positions,
        "vocab_size": cfg.vocab_size,
        "attn_implementation": cfg._attn_implementation,
        "threads": torch.get_num_threads(),
        "batch": 1, "prompt_tokens": args.prompt_tokens, "new_tokens": args.new_tokens, "seed": args.seed,
        "trials": len(trials),
        "ttft_ms": min(t["ttft_ms"] for t in trials),
        "decode_tokens_per_s": max(t["decode_tokens_per_s"] for t in trials),
        "tokens_per_s": max(t["tokens_per_s"] for t in trials),
        "load_s": load_s,
        "all_trials": trials,
        "prompt_ids": prompt,
        "generated_ids": tokens,
        "no_cache_same": no_cache_same,
    }
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
