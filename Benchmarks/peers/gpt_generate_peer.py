"""PyTorch peer for tt-bench's generation rows on the `gpt` arch: greedy decoding, batch 1,
with a KV cache, in eager PyTorch (the model of torch_peer.py: pre-LN blocks, per-head
Wq/Wk/Wv, untied lm_head).

Usage: python3 Benchmarks/peers/gpt_generate_peer.py --preset small [--prompt-tokens 8]
       [--new-tokens 56] [--trials 3]     (prompt + new - 1 <= T: the cache never slides)

Weights are drawn as torch_peer.py draws them (N(0, 0.02), seeded): the speed does not
depend on their values. The prompt is the tt-bench LCG (common.batch's generator). The
prompt goes through one forward pass that fills the cache (ttft: start -> first new token);
each later token is one cached step. Prints one JSON line with ttft_ms,
decode_tokens_per_s ((N - 1) / time from token 1 to token N) and tokens_per_s (N / whole
call), best of --trials after a warm-up, torch's default thread count.
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def lcg(seed, n, vocab):
    state = seed
    out = []
    for _ in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out.append((state >> 33) % vocab)
    return out


def main():
    ap = argparse.ArgumentParser(description="PyTorch KV-cached greedy generation peer (gpt arch, batch 1)")
    ap.add_argument("--preset", default="small", choices=[k for k, v in common.PRESETS.items() if v[0] == "gpt"])
    ap.add_argument("--prompt-tokens", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=56)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    import torch
    import torch.nn.functional as Fn
    import torch_peer

    arch, V, D, H, F, L, T, B = common.PRESETS[args.preset]
    # The last new token needs no position of its own: prompt + new - 1 positions at most.
    if args.prompt_tokens < 1 or args.new_tokens < 1 or args.prompt_tokens + args.new_tokens - 1 > T:
        print(f"gpt_generate_peer: need prompt >= 1, new >= 1, prompt + new - 1 <= T = {T}", file=sys.stderr)
        sys.exit(2)
    p = {k: v.detach() for k, v in torch_peer.make_params(args.preset, torch.Generator().manual_seed(42)).items()}
    dk = D // H
    ln = lambda x, pre: Fn.layer_norm(x, (D,), p[pre + ".gamma"], p[pre + ".beta"], eps=common.LN_EPS)

    def qkv(pre, x):  # x (S, D) -> q, k, v (H, S, dk)
        return [torch.einsum("sd,hdk->hsk", x, p[pre + w]) for w in ("attn.wq", "attn.wk", "attn.wv")]

    def step(tokens, start, cache):
        """Runs positions start..start+len(tokens)-1, appending to cache; returns the last logits."""
        S = len(tokens)
        x = p["tok_emb"][tokens] + p["pos_emb"][start:start + S]
        for i in range(L):
            pre = f"layers.{i}."
            q, k, v = qkv(pre, ln(x, pre + "ln1"))
            if i < len(cache):
                k = torch.cat([cache[i][0], k], dim=1)
                v = torch.cat([cache[i][1], v], dim=1)
                cache[i] = (k, v)
            else:
                cache.append((k, v))
            scores = q @ k.transpose(-1, -2) / math.sqrt(dk)           # (H, S, start+S)
            if S > 1:
                mask = torch.triu(torch.ones(S, start + S, dtype=torch.bool), diagonal=start + 1)
                scores = scores.masked_fill(mask, float("-inf"))
            heads = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(S, D)
            x = x + heads @ p[pre + "attn.wo"].t()
            h = Fn.gelu(ln(x, pre + "ln2") @ p[pre + "ffn.w1"].t() + p[pre + "ffn.b1"], approximate="tanh")
            x = x + h @ p[pre + "ffn.w2"].t() + p[pre + "ffn.b2"]
        return ln(x[-1:], "ln_f") @ p["lm_head"].t()

    prompt = lcg(args.seed, args.prompt_tokens, V)

    def generate(n):
        cache, times, out = [], [], []
        start = time.perf_counter()
        logits = step(torch.tensor(prompt), 0, cache)
        pos = len(prompt)
        for _ in range(n):
            tok = int(torch.argmax(logits[0]))
            out.append(tok)
            times.append(time.perf_counter())
            if len(out) == n:
                break
            logits = step(torch.tensor([tok]), pos, cache)
            pos += 1
        return start, times, out

    with torch.inference_mode():
        generate(args.new_tokens)  # warm-up
        trials = []
        for _ in range(args.trials):
            start, times, out = generate(args.new_tokens)
            end = times[-1]
            trials.append({"ttft_ms": (times[0] - start) * 1e3,
                           "decode_tokens_per_s": (args.new_tokens - 1) / (times[-1] - times[0]) if args.new_tokens > 1 else None,
                           "tokens_per_s": args.new_tokens / (end - start)})
    print(json.dumps({
        "peer": "torch-kv-greedy", "torch": torch.__version__, "preset": args.preset, "threads": torch.get_num_threads(),
        "prompt_tokens": args.prompt_tokens, "new_tokens": args.new_tokens, "trials": len(trials),
        "ttft_ms": min(t["ttft_ms"] for t in trials),
        "decode_tokens_per_s": max(t["decode_tokens_per_s"] for t in trials) if args.new_tokens > 1 else None,
        "tokens_per_s": max(t["tokens_per_s"] for t in trials),
        "all_trials": trials, "prompt_ids": prompt, "generated_ids": out,
    }), flush=True)


if __name__ == "__main__":
    main()
