"""PyTorch peer (eager, CPU, float32) for tt-bench: the tt-ckpt model and AdamW step
(the gpt2 arch: transformers' GPT2LMHeadModel, dropout off).

Prints one JSON line per preset (see common.report). Usage:
    python3 Benchmarks/peers/torch_peer.py [--preset small] [--seconds 3]
"""
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as Fn  # noqa: E402


def make_params(preset, gen):
    arch, V, D, H, F, L, T, B = common.PRESETS[preset]
    std = 0.1 if arch == "tutorial" else 0.02
    params = {}
    for name, shape, kind in common.layout(arch, V, D, H, F, L, T):
        if kind == "weight" or (kind == "bias" and arch == "tutorial"):
            t = torch.randn(shape, generator=gen, dtype=torch.float32) * std
        elif kind == "gain":
            t = torch.ones(shape, dtype=torch.float32)
        else:
            t = torch.zeros(shape, dtype=torch.float32)
        params[name] = t.requires_grad_(True)
    return params


def gelu(x):
    # tanh approximation: 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))
    return Fn.gelu(x, approximate="tanh")


def attention(p, prefix, x, H, mask):
    B, T, D = x.shape
    dk = D // H
    q = torch.einsum("btd,hdk->bhtk", x, p[prefix + "attn.wq"])   # (B,H,T,dk)
    k = torch.einsum("btd,hdk->bhtk", x, p[prefix + "attn.wk"])
    v = torch.einsum("btd,hdk->bhtk", x, p[prefix + "attn.wv"])
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(dk)              # (B,H,T,T)
    scores = scores.masked_fill(mask, float("-inf"))
    att = torch.softmax(scores, dim=-1)
    heads = (att @ v).transpose(1, 2).reshape(B, T, D)              # concat(heads)
    return heads @ p[prefix + "attn.wo"].t()                        # ·Woᵀ


def ffn(p, prefix, x):
    h = gelu(x @ p[prefix + "ffn.w1"].t() + p[prefix + "ffn.b1"])
    return h @ p[prefix + "ffn.w2"].t() + p[prefix + "ffn.b2"]


def layer_norm(x, gamma, beta):
    return Fn.layer_norm(x, (x.shape[-1],), gamma, beta, eps=common.LN_EPS)


def loss_fn(p, preset, tokens, targets, mask):
    arch, V, D, H, F, L, T, B = common.PRESETS[preset]
    x = p["tok_emb"][tokens] + p["pos_emb"][:T]
    for i in range(L):
        pre = f"layers.{i}."
        if arch == "gpt":
            x = x + attention(p, pre, layer_norm(x, p[pre + "ln1.gamma"], p[pre + "ln1.beta"]), H, mask)
            x = x + ffn(p, pre, layer_norm(x, p[pre + "ln2.gamma"], p[pre + "ln2.beta"]))
        else:
            mh = attention(p, pre, x, H, mask)
            x = layer_norm(mh + ffn(p, pre, mh), p[pre + "ln.gamma"], p[pre + "ln.beta"])
    if arch == "gpt":
        x = layer_norm(x, p["ln_f.gamma"], p["ln_f.beta"])
    logits = x @ p["lm_head"].t()
    return Fn.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))


def gpt2_model(preset):
    """transformers' GPT2LMHeadModel of the preset's shape (the PyTorch implementation of
    the gpt2 arch), dropout off, float32, seeded."""
    from transformers import GPT2Config, GPT2LMHeadModel
    arch, V, D, H, F, L, T, B = common.PRESETS[preset]
    torch.manual_seed(42)
    cfg = GPT2Config(vocab_size=V, n_positions=T, n_embd=D, n_layer=L, n_head=H, n_inner=F,
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    return GPT2LMHeadModel(cfg).to(torch.float32).train()


def run(preset, args):
    arch, V, D, H, F, L, T, B = common.PRESETS[preset]
    if arch == "gpt2":
        model = gpt2_model(preset)
        run_steps(preset, args, list(model.parameters()),
                  lambda tokens, targets, mask: Fn.cross_entropy(model(input_ids=tokens).logits.reshape(-1, V),
                                                                 targets.reshape(-1)))
    else:
        p = make_params(preset, torch.Generator().manual_seed(42))
        run_steps(preset, args, list(p.values()), lambda tokens, targets, mask: loss_fn(p, preset, tokens, targets, mask))


def run_steps(preset, args, params, loss_of):
    arch, V, D, H, F, L, T, B = common.PRESETS[preset]
    # torch.optim.AdamW: θ ← θ·(1 − lr·wd) − lr·m̂/(√v̂ + ε), the same update as tt-ckpt's.
    opt = torch.optim.AdamW(params, lr=common.LR, betas=(common.BETA1, common.BETA2),
                            eps=common.EPS, weight_decay=common.WD)
    tok, tgt = common.batch(preset)
    tokens = torch.tensor(tok, dtype=torch.long)
    targets = torch.tensor(tgt, dtype=torch.long)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    split = [0.0, 0.0, 0.0]
    losses = []

    def step(record_split=False):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_of(tokens, targets, mask)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        if record_split:
            split[0] += t1 - t0
            split[1] += t2 - t1
            split[2] += t3 - t2
        losses.append(loss.item())

    for _ in range(args.warmup):
        step()
    first = losses[0]
    steps, elapsed = common.timed_loop(lambda: step(True), args.seconds, args.min_steps)
    common.report("torch", torch.__version__, preset, torch.get_num_threads(), steps, elapsed,
                  [s / common.TIMED_LOOP_STEPS[0] * 1e3 for s in split], first, losses[-1])


def main():
    args = common.parse_args("PyTorch")
    torch.set_num_threads(args.threads)
    for preset in args.presets:
        run(preset, args)


if __name__ == "__main__":
    main()
