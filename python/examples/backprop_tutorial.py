#!/usr/bin/env python3
"""One training step of the tutorial model by hand, in numpy, checked against tt-ckpt.

The series computes backpropagation one stage at a time: dL/dlogits, the output layer,
back through LayerNorm, the FFN with GELU', attention through the softmax, down to the
embeddings. This script does the same for the tutorial model (V 6, D 16, H 2, F 64, one
block, T 5) on the series' sentence, saves every number under the canonical names of
spec/TRACE.md, asks tt-ckpt for the same step (`tt-ckpt trace`) and compares the two
(`tt-ckpt diff mine.safetensors trace.ttc`): tensors are listed in the order of the step,
so the first wrong stage is the first line, and the usual mistakes are named.

    tt-ckpt init model.ttc && tt-ckpt trace model.ttc -o trace.ttc
    python3 backprop_tutorial.py model.ttc --trace trace.ttc   # equal within tolerance
    python3 backprop_tutorial.py                     # the same with a fresh model and trace
    python3 backprop_tutorial.py --mistake sum       # P - onehot without the /N
    python3 backprop_tutorial.py --mistake transpose # dWo stored transposed
    python3 backprop_tutorial.py --mistake gelu      # the notebook's GELU' (tanh CDF, erf PDF)

Needs numpy and safetensors; the weights are read from the checkpoint with python/ttckpt.
The tool is $TTCKPT_BIN, else `tt-ckpt` on PATH. Exit status: the diff's (0 equal, 1 not).
"""
import argparse
import math
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
from safetensors.numpy import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import ttckpt  # noqa: E402  (python/ttckpt, the numpy-only .ttc reader)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def gelu_derivative(x):
    """The true derivative of the tanh GELU above."""
    u = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
    t = np.tanh(u)
    return 0.5 * (1 + t) + 0.5 * x * (1 - t ** 2) * math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x ** 2)


def gelu_derivative_mixed(x):
    """The notebook's version: the tanh-form CDF with the erf-form (exact Gaussian) PDF."""
    u = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
    return 0.5 * (1 + np.tanh(u)) + x * np.exp(-0.5 * x ** 2) / math.sqrt(2 * math.pi)


def layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    rstd = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * rstd
    return xhat * gamma + beta, xhat, rstd


def step(W, tokens, targets, mistake):
    """Forward and backward of the mean loss; returns {canonical name: array}."""
    out = {}
    S = len(tokens)
    H, D, dk = W["layers.0.attn.wq"].shape
    counted = [t for t in range(S) if targets[t] >= 0]
    N = len(counted)

    # Forward
    X = W["tok_emb"][tokens] + W["pos_emb"][:S]                       # (S, D)
    out["act.emb"] = X
    Q = np.stack([X @ W["layers.0.attn.wq"][h] for h in range(H)])   # (H, S, dk)
    K = np.stack([X @ W["layers.0.attn.wk"][h] for h in range(H)])
    V = np.stack([X @ W["layers.0.attn.wv"][h] for h in range(H)])
    scores = Q @ K.transpose(0, 2, 1) / math.sqrt(dk)                 # (H, S, S)
    mask = np.triu(np.ones((S, S), dtype=bool), k=1)
    A = softmax(np.where(mask, -np.inf, scores))
    heads = A @ V                                                     # (H, S, dk)
    concat = np.concatenate(list(heads), axis=-1)                     # (S, D)
    mh = concat @ W["layers.0.attn.wo"].T
    z = mh @ W["layers.0.ffn.w1"].T + W["layers.0.ffn.b1"]           # (S, F)
    a = gelu(z)
    f = a @ W["layers.0.ffn.w2"].T + W["layers.0.ffn.b2"]
    r = mh + f
    x, xhat, rstd = layer_norm(r, W["layers.0.ln.gamma"], W["layers.0.ln.beta"])
    logits = x @ W["lm_head"].T                                       # (S, V)
    P = softmax(logits)
    losses = np.zeros(S)
    for t in counted:
        losses[t] = -math.log(P[t, targets[t]])
    out.update({"act.layers.0.attn.q": Q, "act.layers.0.attn.k": K, "act.layers.0.attn.v": V,
                "act.layers.0.attn.scores": scores, "act.layers.0.attn.weights": A,
                "act.layers.0.attn.heads": heads, "act.layers.0.attn.concat": concat,
                "act.layers.0.attn.out": mh, "act.layers.0.ffn.pre": z, "act.layers.0.ffn.gelu": a,
                "act.layers.0.ffn.out": f, "act.layers.0.ffn.res": r, "act.layers.0.ln.out": x,
                "act.logits": logits, "act.probs": P, "act.losses": losses,
                "act.loss": np.array(losses.sum() / N)})

    # Backward: dL/dlogits first
    dlogits = np.zeros_like(P)
    for t in counted:
        dlogits[t] = P[t]
        dlogits[t, targets[t]] -= 1
    if mistake != "sum":
        dlogits /= N                       # the mean loss: (P - onehot)/N
    out["grad.logits"] = dlogits
    out["lm_head"] = dlogits.T @ x
    dx = dlogits @ W["lm_head"]
    out["grad.layers.0.ln.out"] = dx

    # LayerNorm
    gamma = W["layers.0.ln.gamma"]
    out["layers.0.ln.gamma"] = (dx * xhat).sum(axis=0)
    out["layers.0.ln.beta"] = dx.sum(axis=0)
    g = dx * gamma
    dr = rstd * (g - g.mean(axis=-1, keepdims=True) - xhat * (g * xhat).mean(axis=-1, keepdims=True))
    out["grad.layers.0.ffn.res"] = dr
    out["grad.layers.0.ffn.out"] = dr

    # FFN with GELU'
    out["layers.0.ffn.w2"] = dr.T @ a
    out["layers.0.ffn.b2"] = dr.sum(axis=0)
    da = dr @ W["layers.0.ffn.w2"]
    out["grad.layers.0.ffn.gelu"] = da
    dz = da * (gelu_derivative_mixed(z) if mistake == "gelu" else gelu_derivative(z))
    out["grad.layers.0.ffn.pre"] = dz
    out["layers.0.ffn.w1"] = dz.T @ mh
    out["layers.0.ffn.b1"] = dz.sum(axis=0)
    dmh = dr + dz @ W["layers.0.ffn.w1"]   # the residual r = mh + f
    out["grad.layers.0.attn.out"] = dmh

    # Attention, through the softmax
    dWo = dmh.T @ concat
    out["layers.0.attn.wo"] = dWo.T if mistake == "transpose" else dWo
    dconcat = dmh @ W["layers.0.attn.wo"]
    out["grad.layers.0.attn.concat"] = dconcat
    dheads = np.stack([dconcat[:, h * dk:(h + 1) * dk] for h in range(H)])
    out["grad.layers.0.attn.heads"] = dheads
    dA = dheads @ V.transpose(0, 2, 1)
    dscores = A * (dA - (A * dA).sum(axis=-1, keepdims=True))
    dQ = dscores @ K / math.sqrt(dk)
    dK = dscores.transpose(0, 2, 1) @ Q / math.sqrt(dk)
    dV = A.transpose(0, 2, 1) @ dheads
    out.update({"grad.layers.0.attn.weights": dA, "grad.layers.0.attn.scores": dscores,
                "grad.layers.0.attn.q": dQ, "grad.layers.0.attn.k": dK, "grad.layers.0.attn.v": dV,
                "layers.0.attn.wq": np.stack([X.T @ dQ[h] for h in range(H)]),
                "layers.0.attn.wk": np.stack([X.T @ dK[h] for h in range(H)]),
                "layers.0.attn.wv": np.stack([X.T @ dV[h] for h in range(H)])})
    dX = sum(dQ[h] @ W["layers.0.attn.wq"][h].T + dK[h] @ W["layers.0.attn.wk"][h].T
             + dV[h] @ W["layers.0.attn.wv"][h].T for h in range(H))
    out["grad.emb"] = dX

    # Embeddings
    dtok = np.zeros_like(W["tok_emb"])
    for t in range(S):
        dtok[tokens[t]] += dX[t]
    dpos = np.zeros_like(W["pos_emb"])
    dpos[:S] = dX
    out["tok_emb"] = dtok
    out["pos_emb"] = dpos
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", nargs="?", help="a tutorial checkpoint (default: a fresh `tt-ckpt init`)")
    p.add_argument("--mistake", choices=["none", "sum", "transpose", "gelu"], default="none")
    p.add_argument("--out", default=None, help="where to save your numbers (default: a temporary file)")
    p.add_argument("--trace", default=None, help="a `tt-ckpt trace CHECKPOINT -o FILE` to compare with "
                                                  "(default: made in a temporary directory)")
    args = p.parse_args()
    tool = os.environ.get("TTCKPT_BIN", "tt-ckpt")
    work = tempfile.mkdtemp(prefix="backprop-")
    checkpoint = args.checkpoint
    if checkpoint is None:
        checkpoint = os.path.join(work, "model.ttc")
        subprocess.run([tool, "init", checkpoint], check=True, stdout=subprocess.DEVNULL)
    trace = args.trace
    if trace is None:
        trace = os.path.join(work, "trace.ttc")
        subprocess.run([tool, "trace", checkpoint, "-o", trace], check=True, stdout=subprocess.DEVNULL)

    metadata, tensors = ttckpt.load(checkpoint)
    if metadata["model.arch"] != "tutorial" or metadata["model.n_layers"] != 1:
        sys.exit(f"{checkpoint}: this script computes the one-block tutorial model")
    W = {name: t.astype(np.float64) for name, t in tensors.items()}
    # The series' sentence, <BOS> I like transformers <EOS>: inputs and next-token targets.
    tokens = [1, 3, 4, 5, 2]
    targets = tokens[1:] + [-1]            # -1: no target after <EOS>

    mine = step(W, tokens, targets, args.mistake)
    out = args.out or os.path.join(work, "mine.safetensors")
    save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in mine.items()}, out)
    sys.exit(subprocess.run([tool, "diff", out, trace]).returncode)


if __name__ == "__main__":
    main()
