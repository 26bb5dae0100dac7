"""Shared definitions for the PyTorch and JAX peers of tt-bench.

Presets, the canonical tensor list (same names, shapes and order as
Sources/TTCore/ParameterLayout.swift), the FLOP count the harness uses, and
the JSON line each peer prints.
"""
import argparse
import json
import math
import os
import platform
import sys
import time

# name: (arch, V, D, H, F, L, T, B)
PRESETS = {
    "tutorial": ("tutorial", 6, 16, 2, 64, 1, 5, 1),
    "small": ("gpt", 65, 128, 4, 512, 4, 64, 16),
    "medium": ("gpt", 256, 256, 8, 1024, 6, 128, 8),
    # GPT-2 124M's shape at B 4, T 256 (context 256).
    "gpt2-124m": ("gpt2", 50257, 768, 12, 3072, 12, 256, 4),
}

# AdamW defaults (issue 2): lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01 on every tensor.
LR, BETA1, BETA2, EPS, WD = 1e-3, 0.9, 0.999, 1e-8, 0.01
LN_EPS = 1e-5


def layout(arch, V, D, H, F, L, T):
    """[(name, shape, kind)] in canonical order; kind in weight/bias/gain/normbias."""
    dk = D // H
    out = [("tok_emb", (V, D), "weight"), ("pos_emb", (T, D), "weight")]
    if arch == "gpt2":   # fused QKV and output projections with biases, tied head
        for i in range(L):
            p = f"layers.{i}."
            out += [(p + "ln1.gamma", (D,), "gain"), (p + "ln1.beta", (D,), "normbias"),
                    (p + "attn.wqkv", (3 * D, D), "weight"), (p + "attn.bqkv", (3 * D,), "bias"),
                    (p + "attn.wo", (D, D), "weight"), (p + "attn.bo", (D,), "bias"),
                    (p + "ln2.gamma", (D,), "gain"), (p + "ln2.beta", (D,), "normbias"),
                    (p + "ffn.w1", (F, D), "weight"), (p + "ffn.b1", (F,), "bias"),
                    (p + "ffn.w2", (D, F), "weight"), (p + "ffn.b2", (D,), "bias")]
        return out + [("ln_f.gamma", (D,), "gain"), ("ln_f.beta", (D,), "normbias")]
    for i in range(L):
        p = f"layers.{i}."
        if arch == "gpt":
            out += [(p + "ln1.gamma", (D,), "gain"), (p + "ln1.beta", (D,), "normbias")]
        out += [(p + "attn.wq", (H, D, dk), "weight"), (p + "attn.wk", (H, D, dk), "weight"),
                (p + "attn.wv", (H, D, dk), "weight"), (p + "attn.wo", (D, D), "weight")]
        if arch == "gpt":
            out += [(p + "ln2.gamma", (D,), "gain"), (p + "ln2.beta", (D,), "normbias")]
        out += [(p + "ffn.w1", (F, D), "weight"), (p + "ffn.b1", (F,), "bias"),
                (p + "ffn.w2", (D, F), "weight"), (p + "ffn.b2", (D,), "bias")]
        if arch == "tutorial":
            out += [(p + "ln.gamma", (D,), "gain"), (p + "ln.beta", (D,), "normbias")]
    if arch == "gpt":
        out += [("ln_f.gamma", (D,), "gain"), ("ln_f.beta", (D,), "normbias")]
    out.append(("lm_head", (V, D), "weight"))
    return out


def param_count(arch, V, D, H, F, L, T):
    return sum(math.prod(s) for _, s, _ in layout(arch, V, D, H, F, L, T))


def flops_per_step(preset):
    """Issue 15's count: per token 6·(matmul weights incl. the LM head) + 6·L·D·(T+1)
    (causal attention counted once); tt-bench recomputes GFLOP/s from tokens/s the same way."""
    arch, V, D, H, F, L, T, B = PRESETS[preset]
    matmul_weights = L * (4 * D * D + 2 * D * F) + V * D
    return (6 * matmul_weights + 6 * L * D * (T + 1)) * B * T


def batch(preset, seed=1234):
    """Deterministic (tokens, targets), each B x T int lists: targets = tokens shifted by one."""
    arch, V, D, H, F, L, T, B = PRESETS[preset]
    state = seed
    seq = []
    for _ in range(B * (T + 1)):
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        seq.append((state >> 33) % V)
    tokens = [[seq[b * (T + 1) + t] for t in range(T)] for b in range(B)]
    targets = [[seq[b * (T + 1) + t + 1] for t in range(T)] for b in range(B)]
    return tokens, targets


def parse_args(peer):
    ap = argparse.ArgumentParser(description=f"{peer} peer of tt-bench: one AdamW training step per iteration")
    ap.add_argument("--preset", default="all", choices=["all"] + list(PRESETS))
    ap.add_argument("--seconds", type=float, default=3.0, help="minimum timed seconds per preset")
    ap.add_argument("--min-steps", type=int, default=10, help="minimum timed steps per preset")
    ap.add_argument("--warmup", type=int, default=5, help="untimed warmup steps")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (JAX uses every CPU it may run on)")
    args = ap.parse_args()
    args.presets = list(PRESETS) if args.preset == "all" else [args.preset]
    return args


TIMED_LOOP_STEPS = [0]  # steps run by the last timed_loop, all trials (for per-step splits)


def timed_loop(step, seconds, min_steps, trials=3):
    """Runs `trials` trials of step(), each until seconds/trials and min_steps/trials (at
    least 3) are reached; returns (steps, elapsed seconds) of the fastest trial per step,
    like tt-bench (on a shared machine it is the one least disturbed by other jobs).
    TIMED_LOOP_STEPS[0] holds the total steps over all trials."""
    best = None
    total = 0
    for _ in range(trials):
        n = 0
        start = time.perf_counter()
        while True:
            step()
            n += 1
            elapsed = time.perf_counter() - start
            if n >= max(3, min_steps // trials) and elapsed >= seconds / trials:
                break
        total += n
        if best is None or elapsed / n < best[1] / best[0]:
            best = (n, elapsed)
    TIMED_LOOP_STEPS[0] = total
    return best


def report(peer, version, preset, threads, steps, elapsed, split_ms, loss_first, loss_last):
    arch, V, D, H, F, L, T, B = PRESETS[preset]
    step_s = elapsed / steps
    record = {
        "peer": peer, "version": version, "preset": preset, "arch": arch,
        "params": param_count(arch, V, D, H, F, L, T), "batch": B, "seq": T,
        "threads": threads, "steps": steps, "seconds": round(elapsed, 4),
        "step_ms": step_s * 1e3,
        "steps_per_s": 1.0 / step_s,
        "tokens_per_s": B * T / step_s,
        "gflops": flops_per_step(preset) / step_s / 1e9,
        "fwd_ms": split_ms[0], "bwd_ms": split_ms[1], "opt_ms": split_ms[2],
        "loss_first": loss_first, "loss_last": loss_last,
        "python": platform.python_version(),
    }
    print(json.dumps(record), flush=True)
