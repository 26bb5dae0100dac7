"""JAX peer (jit, CPU, float32) for tt-bench: the tt-ckpt model and AdamW step.

The whole step (forward, backward, AdamW) is one jitted function. The fwd/bwd/opt
split is estimated from two more jitted functions: forward only, and forward+backward.
Prints one JSON line per preset (see common.report). Usage:
    python3 Benchmarks/peers/jax_peer.py [--preset small] [--seconds 3]
"""
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def configure():
    # Must run before jax is imported. XLA's CPU client has no supported thread-count
    # option; it uses every CPU this process may run on (reported as "threads").
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def main():
    args = common.parse_args("JAX")
    threads = configure()
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_default_matmul_precision", "float32")

    def gelu(x):
        # tanh approximation: 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))
        return 0.5 * x * (1.0 + jnp.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))

    def layer_norm(x, gamma, beta):
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)   # biased variance
        return (x - mean) * jax.lax.rsqrt(var + common.LN_EPS) * gamma + beta

    def make_loss(preset):
        arch, V, D, H, F, L, T, B = common.PRESETS[preset]
        dk = D // H
        mask = jnp.tril(jnp.ones((T, T), dtype=bool))

        def attention(p, pre, x):
            q = jnp.einsum("btd,hdk->bhtk", x, p[pre + "attn.wq"])   # (B,H,T,dk)
            k = jnp.einsum("btd,hdk->bhtk", x, p[pre + "attn.wk"])
            v = jnp.einsum("btd,hdk->bhtk", x, p[pre + "attn.wv"])
            scores = jnp.einsum("bhtk,bhsk->bhts", q, k) / math.sqrt(dk)
            scores = jnp.where(mask, scores, -jnp.inf)
            att = jax.nn.softmax(scores, axis=-1)
            heads = jnp.einsum("bhts,bhsk->bthk", att, v).reshape(x.shape[0], T, D)   # concat(heads)
            return heads @ p[pre + "attn.wo"].T                                         # ·Woᵀ

        def ffn(p, pre, x):
            h = gelu(x @ p[pre + "ffn.w1"].T + p[pre + "ffn.b1"])
            return h @ p[pre + "ffn.w2"].T + p[pre + "ffn.b2"]

        def loss(p, tokens, targets):
            x = p["tok_emb"][tokens] + p["pos_emb"][:T]
            for i in range(L):
                pre = f"layers.{i}."
                if arch == "gpt":
                    x = x + attention(p, pre, layer_norm(x, p[pre + "ln1.gamma"], p[pre + "ln1.beta"]))
                    x = x + ffn(p, pre, layer_norm(x, p[pre + "ln2.gamma"], p[pre + "ln2.beta"]))
                else:
                    mh = attention(p, pre, x)
                    x = layer_norm(mh + ffn(p, pre, mh), p[pre + "ln.gamma"], p[pre + "ln.beta"])
            if arch == "gpt":
                x = layer_norm(x, p["ln_f.gamma"], p["ln_f.beta"])
            logits = x @ p["lm_head"].T
            logp = jax.nn.log_softmax(logits, axis=-1)
            return -jnp.mean(jnp.take_along_axis(logp, targets[..., None], axis=-1))

        return loss

    def adamw(p, g, m, v, t):
        # θ ← θ·(1 − lr·wd) − lr·m̂/(√v̂ + ε), on every tensor.
        b1c = 1.0 - common.BETA1 ** t
        b2c = 1.0 - common.BETA2 ** t
        m = jax.tree_util.tree_map(lambda m, g: common.BETA1 * m + (1 - common.BETA1) * g, m, g)
        v = jax.tree_util.tree_map(lambda v, g: common.BETA2 * v + (1 - common.BETA2) * g * g, v, g)
        p = jax.tree_util.tree_map(
            lambda p, m, v: p * (1 - common.LR * common.WD) - common.LR * (m / b1c) / (jnp.sqrt(v / b2c) + common.EPS),
            p, m, v)
        return p, m, v

    for preset in args.presets:
        if common.PRESETS[preset][0] == "gpt2":
            print(f"jax_peer: {preset}: the gpt2 arch has no JAX model here; skipped", file=sys.stderr)
            continue
        arch, V, D, H, F, L, T, B = common.PRESETS[preset]
        std = 0.1 if arch == "tutorial" else 0.02
        key = jax.random.PRNGKey(42)
        p = {}
        for name, shape, kind in common.layout(arch, V, D, H, F, L, T):
            key, sub = jax.random.split(key)
            if kind == "weight" or (kind == "bias" and arch == "tutorial"):
                p[name] = jax.random.normal(sub, shape, dtype=jnp.float32) * std
            elif kind == "gain":
                p[name] = jnp.ones(shape, jnp.float32)
            else:
                p[name] = jnp.zeros(shape, jnp.float32)
        m = jax.tree_util.tree_map(jnp.zeros_like, p)
        v = jax.tree_util.tree_map(jnp.zeros_like, p)
        tok, tgt = common.batch(preset)
        tokens = jnp.array(tok, dtype=jnp.int32)
        targets = jnp.array(tgt, dtype=jnp.int32)
        loss = make_loss(preset)

        fwd = jax.jit(loss)
        fwd_bwd = jax.jit(jax.value_and_grad(loss))

        @jax.jit
        def train_step(p, m, v, t, tokens, targets):
            value, g = jax.value_and_grad(loss)(p, tokens, targets)
            p, m, v = adamw(p, g, m, v, t)
            return p, m, v, value

        state = {"p": p, "m": m, "v": v, "t": 0}
        losses = []

        def step():
            state["t"] += 1
            t = jnp.float32(state["t"])
            state["p"], state["m"], state["v"], value = train_step(state["p"], state["m"], state["v"], t, tokens, targets)
            losses.append(value.block_until_ready())

        for _ in range(args.warmup):
            step()
        first = float(losses[0])
        steps, elapsed = common.timed_loop(step, args.seconds, args.min_steps)
        last = float(losses[-1])

        # Split: forward alone, forward+backward, and the full step, each jitted and timed alone.
        fwd(state["p"], tokens, targets).block_until_ready()
        jax.block_until_ready(fwd_bwd(state["p"], tokens, targets))
        share = max(args.seconds / 3, 0.3)
        n_f, s_f = common.timed_loop(lambda: fwd(state["p"], tokens, targets).block_until_ready(), share, args.min_steps)
        n_fb, s_fb = common.timed_loop(lambda: jax.block_until_ready(fwd_bwd(state["p"], tokens, targets)), share, args.min_steps)
        step_ms = elapsed / steps * 1e3
        fwd_ms = s_f / n_f * 1e3
        fb_ms = s_fb / n_fb * 1e3
        split = [fwd_ms, max(fb_ms - fwd_ms, 0.0), max(step_ms - fb_ms, 0.0)]
        common.report("jax", jax.__version__, preset, threads, steps, elapsed, split, first, last)


if __name__ == "__main__":
    main()
