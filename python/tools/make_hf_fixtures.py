#!/usr/bin/env python3
"""Writes the transformers / nanoGPT / byte-level BPE fixtures that tt-ckpt's gpt2 tests compare against.

Usage:
    python3 python/tools/make_hf_fixtures.py Tests/Fixtures/hf

Needs torch, transformers, tokenizers, safetensors and numpy (torch and transformers are NOT
CI dependencies: this script is run by hand and its output committed). Everything is seeded and
computed on one CPU thread, so a rerun with the same package versions writes the same bytes.

For each configuration in CONFIGS it builds a random `GPT2LMHeadModel` (weights redrawn so that
biases, LayerNorm gains and offsets are non-trivial and attention is far from uniform; see
`redraw`), and writes under OUTDIR/<name>/:

  config.json, generation_config.json, model.safetensors  as `save_pretrained` writes them
                                      (one config: sharded, model.safetensors.index.json + shards)
  io.safetensors          input_ids (B,T) I64, labels (B,T) I64, logits (B,T,V) F32, loss () F32
  grads.safetensors       d loss / d parameter, one tensor per `named_parameters()` name
  after_adamw.safetensors every parameter after one torch.optim.AdamW step on that loss
  adamw_state.safetensors exp_avg / exp_avg_sq after the step for a few tensors
  adamw.json              the optimizer settings and param groups

plus a nanoGPT-style state dict, a base-model (`GPT2Model`, no `transformer.` prefix) save, and
a byte-level BPE tokenizer trained with `tokenizers` for the config whose vocab it matches. Then it
reloads everything with transformers and checks it (see `verify_*`); any disagreement raises.
OUTDIR/README.md is generated too (versions, files, label shift, AdamW settings, figures).
"""
import argparse
import inspect
import json
import math
import os
import platform
import shutil

import numpy as np
import safetensors
import tokenizers
import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import load_file, save_file
from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model, GPT2TokenizerFast

# name, n_layer L, n_positions T (= the input length), vocab V, n_embd D, n_head H, batch B, seed,
# and what else this config carries.
CONFIGS = [
    dict(name="l1-t8-v97", L=1, T=8, V=97, D=16, H=2, B=3, seed=101, nanogpt=True, base_model=True),
    dict(name="l2-t16-v300-ignore", L=2, T=16, V=300, D=24, H=3, B=3, seed=102, ignore=True),
    dict(name="l3-t32-v512-bpe", L=3, T=32, V=512, D=32, H=2, B=2, seed=103, tokenizer=True),
    dict(name="l4-t64-v256-sharded", L=4, T=64, V=256, D=16, H=4, B=2, seed=104, shard="30KB"),
    dict(name="l1-t16-v128-d64", L=1, T=16, V=128, D=64, H=4, B=2, seed=105),
]

ADAMW = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1, amsgrad=False, maximize=False,
             foreach=False, fused=False, capturable=False, differentiable=False)
# The tensors whose AdamW moments are written to adamw_state.safetensors (when the config has them).
# Small ones (the moments after one step are 0.1·g and 0.001·g², so grads.safetensors has the rest):
# a decayed 2-D weight, a bias, a LayerNorm gain and offset.
MOMENT_TENSORS = ["transformer.wpe.weight", "transformer.h.0.attn.c_attn.bias", "transformer.h.0.ln_1.weight",
                  "transformer.ln_f.bias"]
IGNORE_INDEX = -100
EOT = "<|endoftext|>"

# Training text for the byte-level BPE (written out as tokenizer corpus.txt). Plain ASCII prose
# with some digits, punctuation and a little non-ASCII, long enough for 511 - 256 = 255 merges.
BPE_CORPUS = """\
The model reads a token and looks back at the tokens before it. Each head asks a question, and
each earlier token offers an answer. The answers are weighed, summed, and passed to the next layer.
A small model learns small things first: which letter follows which, which words end a line, and
where the spaces go. Then it learns longer habits: a verb after a noun, a dot after a thought.

Training is a loop. Read a window of text, guess every next token, measure how wrong the guesses
were, and nudge every weight a little in the direction that makes the guesses less wrong. The nudge
is the gradient; the size of the nudge is the learning rate. Adam keeps two running averages for
every weight, the mean of the gradients and the mean of their squares, and divides one by the
square root of the other, so that every weight moves at about the same speed.

A checkpoint is a photograph of all of this: the weights, the two averages, the step counter, the
random state, and the text that was read. If the photograph is complete, training can stop and
start again and nobody can tell. If it is not, the loss jumps, or worse, it does not jump and the
run quietly becomes a different run. That is why we write every byte down, compress it, and check
it again when we read it back.

In 2019 the smallest GPT-2 had 124,439,808 parameters: 12 layers, 12 heads, 768 channels, 1024
positions and a vocabulary of 50,257 tokens. Its tokenizer works on bytes, not characters, so it
never meets an unknown symbol; it merges the most frequent pairs of bytes into longer and longer
pieces, 50,000 times. Numbers like 3.14159, 2.71828, 1,000,000 and 0.001 are split into short runs
of digits. Dates such as 2024-06-30 and times like 12:45:07 are split too.

Words that appear together often become one token: "the", " the", " and", " of", " to", " in",
" is", " that", " for", " it", " with", " as", " was", " on". Rare words are spelled out in pieces:
" photograph", " quietly", " checkpoint". The space belongs to the word that follows it, which is
why so many tokens begin with a space. Contractions are split off: it's, don't, we're, I've, she'll,
they'd, I'm. Punctuation stands alone, mostly: (brackets), [lists], {sets}, "quotes", 'ticks'.

Here is a recipe, because recipes repeat themselves. Take 200 g of flour, 100 g of butter, 50 g
of sugar and 1 egg. Mix the flour and the butter, add the sugar, add the egg, and mix again. Rest
the dough for 30 minutes. Roll the dough, cut the dough, and bake the dough for 12 minutes at 180
degrees. Let the biscuits cool for 10 minutes before you eat the biscuits.

def train(model, data, steps):
    for step in range(steps):
        loss = model.loss(data.batch())
        loss.backward()
        model.step()
    return model

Some text is not English. Le modèle lit un jeton et regarde les jetons précédents. Das Modell
liest ein Token und schaut auf die Tokens davor. El modelo lee un token y mira los anteriores.
Café, naïve, façade, über, señor, Ærø, Øresund. Ελληνικά, русский, 日本語, 中文, 한국어.
"""

# Held-out texts for the tokenizer check: not in the corpus, covering Unicode, emoji (with
# modifiers and ZWJ sequences), CJK, digits, runs of spaces, tabs, newlines and CRLF, contractions.
TOKENIZER_CHECKS = [
    "Hello world! The model reads the text again.",
    "It's 2025-01-31 at 09:30; they'll pay $1,234.56 (not 1234.5) for 3 items.",
    "  leading spaces, trailing spaces   ",
    "runs    of     spaces\tand\ttabs\n\nand\n\n\nnewlines\r\nwith CRLF\r\n",
    "Unicode: café naïve résumé Æsir Ωmega, and Русский текст.",
    "CJK: 你好，世界。日本語のテキスト。한국어 문장입니다.",
    "Emoji: 🤖 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ and ✨sparkles✨",
    "Digits 0123456789 9876543210 3.14159265358979 1e-8 0x1F",
    "Mixed:\tdef f(x):\n    return x ** 2  # squares\n",
    "I'm sure we've seen it, you'd think so, she's here, don't they?  'quoted'",
    EOT + " text after the end-of-text token " + EOT,
    "",
]

# The text whose tokens are the input of the tokenizer config (held out from the corpus).
EVAL_TEXT = (
    "A checkpoint that can be read back is worth more than a fast one that cannot. We train the small model "
    "for a few steps, write the weights and both averages, read them back, and compare every byte; then we "
    "train again and check that the loss goes on as if nothing had happened. 12 steps, 3 files, 0 surprises."
)


def rel_l2(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def max_abs(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def check(cond, message):
    if not cond:
        raise SystemExit(f"make_hf_fixtures: check failed: {message}")


def gpt2_config(c, bos_eos):
    return GPT2Config(
        vocab_size=c["V"], n_positions=c["T"], n_embd=c["D"], n_layer=c["L"], n_head=c["H"],
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=bos_eos, eos_token_id=bos_eos,
    )


def redraw(model, gen, D):
    """Replaces transformers' initialization (biases 0, LayerNorm gain 1 / offset 0, weights
    N(0, 0.02), under which attention is nearly uniform and a bug that drops a bias or a gain
    would not show) by draws that make every tensor matter:
      wte N(0, (2/√D)²)  -> logits of standard deviation about 2;   wpe N(0, (1/√D)²)
      c_attn N(0, (1.5/√D)²)  -> attention scores of standard deviation about 2
      other Conv1D weights (in, out) N(0, (1/√in)²);  biases and LayerNorm offsets N(0, 0.2²)
      LayerNorm gains 1 + N(0, 0.2²).
    Drawn from `gen` in named_parameters() order."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("wte.weight"):
                std, mean = 2.0 / math.sqrt(D), 0.0
            elif name.endswith("wpe.weight"):
                std, mean = 1.0 / math.sqrt(D), 0.0
            elif name.endswith("attn.c_attn.weight"):
                std, mean = 1.5 / math.sqrt(p.shape[0]), 0.0
            elif p.dim() == 2:
                std, mean = 1.0 / math.sqrt(p.shape[0]), 0.0
            elif ".ln_" in name and name.endswith(".weight"):
                std, mean = 0.2, 1.0
            else:
                std, mean = 0.2, 0.0
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float32) * std + mean)


def adamw_groups(model):
    """nanoGPT's configure_optimizers: decay every parameter with dim >= 2, nothing else."""
    params = list(model.named_parameters())
    decay = [p for _, p in params if p.dim() >= 2]
    no_decay = [p for _, p in params if p.dim() < 2]
    names = ([n for n, p in params if p.dim() >= 2], [n for n, p in params if p.dim() < 2])
    groups = [{"params": decay, "weight_decay": ADAMW["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}]
    return groups, names


def adamw_reference(p0, g, wd):
    """One AdamW step from zero moments, written out as torch's _single_tensor_adam does it (in
    float32 numpy): the formula README.md states, checked against torch.optim.AdamW below."""
    lr, (b1, b2), eps = ADAMW["lr"], ADAMW["betas"], ADAMW["eps"]
    f = np.float32
    p = (p0 * f(1 - lr * wd)).astype(np.float32)
    m = np.zeros_like(g)
    m = (m + f(1 - b1) * (g - m)).astype(np.float32)          # exp_avg.lerp_(grad, 1 - beta1)
    v = (np.zeros_like(g) * f(b2) + f(1 - b2) * g * g).astype(np.float32)
    bc1 = 1 - b1 ** 1
    bc2_sqrt = (1 - b2 ** 1) ** 0.5
    step_size = lr / bc1
    denom = (np.sqrt(v) / f(bc2_sqrt) + f(eps)).astype(np.float32)
    p = (p - f(step_size) * (m / denom)).astype(np.float32)
    return p, m, v


def nanogpt_state_dict(hf_state):
    """nanoGPT's GPT.from_pretrained conversion: drop attn.bias / attn.masked_bias buffers, copy
    every tensor under the same name, transposing the four Conv1D weights (in, out) into
    nn.Linear's (out, in). lm_head.weight is kept (equal to transformer.wte.weight, as nanoGPT's
    tied state_dict lists both)."""
    transposed = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
    out = {}
    for k, v in hf_state.items():
        if k.endswith(".attn.masked_bias") or k.endswith(".attn.bias"):
            continue
        out[k] = (v.t() if k.endswith(transposed) else v).contiguous().clone()
    return out


def nanogpt_forward(sd, idx, n_layer, n_head):
    """nanoGPT model.py GPT.forward (flash path, dropout 0) on a nanoGPT state dict."""
    B, T = idx.shape
    D = sd["transformer.wte.weight"].shape[1]
    x = sd["transformer.wte.weight"][idx] + sd["transformer.wpe.weight"][torch.arange(T)]
    for i in range(n_layer):
        p = f"transformer.h.{i}."

        def ln(x, n):
            return F.layer_norm(x, (D,), sd[p + n + ".weight"], sd[p + n + ".bias"], 1e-5)

        h = ln(x, "ln_1")
        q, k, v = F.linear(h, sd[p + "attn.c_attn.weight"], sd[p + "attn.c_attn.bias"]).split(D, dim=2)
        q, k, v = (t.view(B, T, n_head, D // n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).contiguous().view(B, T, D)
        x = x + F.linear(y, sd[p + "attn.c_proj.weight"], sd[p + "attn.c_proj.bias"])
        h = F.gelu(F.linear(ln(x, "ln_2"), sd[p + "mlp.c_fc.weight"], sd[p + "mlp.c_fc.bias"]), approximate="tanh")
        x = x + F.linear(h, sd[p + "mlp.c_proj.weight"], sd[p + "mlp.c_proj.bias"])
    x = F.layer_norm(x, (D,), sd["transformer.ln_f.weight"], sd["transformer.ln_f.bias"], 1e-5)
    return F.linear(x, sd["lm_head.weight"])


def save_pretrained(model, outdir, **kwargs):
    # transformers 4.x needs safe_serialization=True for safetensors; 5.x always writes them and
    # has no such argument.
    if "safe_serialization" in inspect.signature(model.save_pretrained).parameters:
        kwargs["safe_serialization"] = True
    model.save_pretrained(outdir, **kwargs)


# ---------------------------------------------------------------- tokenizer


def build_tokenizer(outdir, vocab_size):
    """Trains a ByteLevelBPETokenizer on BPE_CORPUS to vocab_size - 1 entries (256 byte symbols +
    merges), then appends <|endoftext|> as the last id, as GPT-2's own files have it (vocab.json
    holds it, tokenizer.json lists it in the model vocab and as a special added token)."""
    os.makedirs(outdir, exist_ok=True)
    trained = ByteLevelBPETokenizer()
    trained.train_from_iterator([BPE_CORPUS], vocab_size=vocab_size - 1, min_frequency=2,
                                show_progress=False, special_tokens=[])
    vocab = trained.get_vocab()
    check(len(vocab) == vocab_size - 1, f"BPE trained to {len(vocab)} entries, wanted {vocab_size - 1}")
    model_json = json.loads(trained.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model_json["merges"]]
    vocab[EOT] = vocab_size - 1
    tok = ByteLevelBPETokenizer(vocab, merges)
    tok.add_special_tokens([EOT])
    tok.save_model(outdir)                       # vocab.json, merges.txt
    tok.save(os.path.join(outdir, "tokenizer.json"))
    with open(os.path.join(outdir, "corpus.txt"), "w", encoding="utf-8", newline="") as f:
        f.write(BPE_CORPUS)
    return tok


def verify_tokenizer(tok, fixture_dir, tmp):
    """GPT2TokenizerFast loads the files (all three; tokenizer.json alone; vocab.json + merges.txt
    alone) and encodes every check text exactly as `tokenizers` does; decode(encode(x)) == x."""
    variants = {"all": ["vocab.json", "merges.txt", "tokenizer.json"], "tokenizer.json": ["tokenizer.json"],
                "vocab+merges": ["vocab.json", "merges.txt"]}
    cases = []
    for text in TOKENIZER_CHECKS:
        enc = tok.encode(text)
        check(tok.decode(enc.ids, skip_special_tokens=False) == text, f"tokenizers round trip of {text!r}")
        cases.append({"text": text, "ids": enc.ids, "tokens": enc.tokens})
    loaded = {}
    for label, files in variants.items():
        d = os.path.join(tmp, "tok-" + label.replace("+", "-").replace(".", "-"))
        os.makedirs(d, exist_ok=True)
        for f in files:
            shutil.copy(os.path.join(fixture_dir, f), d)
        hf = GPT2TokenizerFast.from_pretrained(d)
        for case in cases:
            ids = hf(case["text"])["input_ids"]
            check(ids == case["ids"], f"GPT2TokenizerFast ({label}) encodes {case['text']!r} as {ids}, "
                                      f"tokenizers as {case['ids']}")
            check(hf.decode(ids) == case["text"], f"GPT2TokenizerFast ({label}) round trip of {case['text']!r}")
        loaded[label] = {"class": type(hf).__name__, "len": len(hf), "eos_token_id": hf.eos_token_id,
                         "bos_token_id": hf.bos_token_id}
    return cases, loaded


# ---------------------------------------------------------------- one config


def make_config(c, outroot, tmp, tok):
    name, L, T, V, D, H, B = (c[k] for k in ("name", "L", "T", "V", "D", "H", "B"))
    out = os.path.join(outroot, name)
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(c["seed"])
    config = gpt2_config(c, V - 1)
    model = GPT2LMHeadModel(config)
    model.set_attn_implementation("eager")
    check(model.lm_head.weight is model.transformer.wte.weight, "lm_head is tied to wte")
    gen = torch.Generator().manual_seed(c["seed"])
    redraw(model, gen, D)
    model.eval()

    # Inputs.
    meta = {}
    if tok is not None:
        ids = tok.encode(EVAL_TEXT).ids
        check(len(ids) >= B * T, f"eval text has {len(ids)} tokens, need {B * T}")
        ids = ids[: B * T]
        text = tok.decode(ids)
        if tok.encode(text).ids == ids:
            meta["text"] = text   # encode(text) == input_ids.reshape(-1)
        input_ids = torch.tensor(ids, dtype=torch.int64).view(B, T)
    else:
        input_ids = torch.randint(0, V, (B, T), generator=gen, dtype=torch.int64)
    labels = input_ids.clone()
    if c.get("ignore"):
        labels[0, 0] = IGNORE_INDEX        # position 0 is never a target: no effect
        labels[0, 3] = IGNORE_INDEX
        labels[1, 7:10] = IGNORE_INDEX
        labels[2, T - 1] = IGNORE_INDEX
    n_targets = int((labels[:, 1:] != IGNORE_INDEX).sum())

    # Forward, loss, backward.
    model.zero_grad(set_to_none=True)
    outputs = model(input_ids, labels=labels, output_attentions=True)
    logits, loss = outputs.logits, outputs.loss
    loss.backward()
    params = dict(model.named_parameters())
    grads = {n: p.grad.detach().clone() for n, p in params.items()}
    before = {n: p.detach().clone() for n, p in params.items()}
    check(set(params) == set(model.state_dict()) - {"lm_head.weight"}, "named_parameters = state_dict minus lm_head")

    # The loss as README states it: logits[:, :-1] against labels[:, 1:], mean over non-ignored.
    manual = F.cross_entropy(logits[:, :-1].reshape(-1, V).double(), labels[:, 1:].reshape(-1),
                             ignore_index=IGNORE_INDEX, reduction="sum") / n_targets
    loss_check = abs(manual.item() - loss.item()) / abs(loss.item())
    check(loss_check < 1e-6, f"{name}: loss {loss.item()} vs shifted mean {manual.item()}")
    attn_max = float(torch.stack([a.detach().max(dim=-1).values.mean() for a in outputs.attentions]).mean())

    # SDPA (transformers' default attention) agrees with eager.
    with torch.no_grad():
        model.set_attn_implementation("sdpa")
        logits_sdpa = model(input_ids).logits
        model.set_attn_implementation("eager")
    sdpa_rel = rel_l2(logits_sdpa.numpy(), logits.detach().numpy())
    check(sdpa_rel < 1e-6, f"{name}: sdpa vs eager logits relative l2 {sdpa_rel}")

    # Save the weights before the optimizer step.
    hf_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if c.get("shard"):
        save_pretrained(model, out, max_shard_size=c["shard"])
    else:
        save_pretrained(model, out)

    # One AdamW step.
    groups, group_names = adamw_groups(model)
    opt_kwargs = {k: v for k, v in ADAMW.items() if k != "weight_decay"}
    opt = torch.optim.AdamW(groups, **opt_kwargs)
    opt.step()
    after = {n: p.detach().clone() for n, p in model.named_parameters()}
    state = {n: opt.state[p] for n, p in model.named_parameters()}
    adam_ref_max = 0.0
    for n in after:
        wd = ADAMW["weight_decay"] if n in group_names[0] else 0.0
        p_ref, m_ref, v_ref = adamw_reference(before[n].numpy(), grads[n].numpy(), wd)
        adam_ref_max = max(adam_ref_max, max_abs(p_ref, after[n].numpy()),
                           max_abs(m_ref, state[n]["exp_avg"].numpy()), max_abs(v_ref, state[n]["exp_avg_sq"].numpy()))
    check(adam_ref_max < 1e-7, f"{name}: README's AdamW formula vs torch: max |d| {adam_ref_max}")
    step_value = float(state[next(iter(state))]["step"])

    # Files.
    io = {"input_ids": input_ids, "labels": labels, "logits": logits.detach().contiguous(),
          "loss": loss.detach().reshape(())}
    # At most one metadata key: safetensors writes __metadata__ in hash-map order, so two keys would
    # make the bytes differ from run to run. n_targets and the rest go to fixtures.json.
    save_file(io, os.path.join(out, "io.safetensors"), metadata=meta or None)
    save_file(grads, os.path.join(out, "grads.safetensors"))
    save_file(after, os.path.join(out, "after_adamw.safetensors"))
    moments = {}
    for n in MOMENT_TENSORS:
        if n in state:
            moments[n + ".exp_avg"] = state[n]["exp_avg"].contiguous()
            moments[n + ".exp_avg_sq"] = state[n]["exp_avg_sq"].contiguous()
    save_file(moments, os.path.join(out, "adamw_state.safetensors"), metadata={"step": repr(step_value)})
    adamw_json = {
        "optimizer": "torch.optim.AdamW",
        "lr": ADAMW["lr"], "betas": list(ADAMW["betas"]), "eps": ADAMW["eps"],
        "amsgrad": False, "maximize": False, "foreach": False, "fused": False, "capturable": False,
        "steps": 1, "state_step_after": step_value,
        "param_groups": [
            {"weight_decay": ADAMW["weight_decay"], "rule": "p.dim() >= 2", "params": group_names[0]},
            {"weight_decay": 0.0, "rule": "p.dim() < 2", "params": group_names[1]},
        ],
        "moments_written": [n for n in MOMENT_TENSORS if n in state],
    }
    with open(os.path.join(out, "adamw.json"), "w") as f:
        f.write(json.dumps(adamw_json, indent=2) + "\n")

    extras = {}
    if tok is not None:
        build_tokenizer_files = ["vocab.json", "merges.txt", "tokenizer.json", "corpus.txt"]
        for f in build_tokenizer_files:
            shutil.copy(os.path.join(tmp, "tokenizer", f), out)
        extras["tokenizer"] = True

    if c.get("nanogpt"):
        sd = nanogpt_state_dict(hf_state)
        check(torch.equal(sd["lm_head.weight"], sd["transformer.wte.weight"]), "nanoGPT lm_head = wte")
        save_file(sd, os.path.join(out, "nanogpt.safetensors"))
        model_args = {"n_layer": L, "n_head": H, "n_embd": D, "block_size": T, "bias": True, "vocab_size": V,
                      "dropout": 0.0}
        with open(os.path.join(out, "nanogpt_model_args.json"), "w") as f:
            f.write(json.dumps(model_args, indent=2) + "\n")

    if c.get("base_model"):
        base_dir = os.path.join(outroot, name + "-base")
        save_pretrained(model_base_from(hf_state, config), base_dir)

    return dict(c, dir=out, n_targets=n_targets, loss=loss.item(), sdpa_rel=sdpa_rel, loss_check=loss_check,
                adam_ref_max=adam_ref_max, attn_max=attn_max, logits_std=float(logits.detach().std()),
                hf_state=hf_state, logits=logits.detach(), input_ids=input_ids, params=sum(p.numel() for p in params.values()),
                grads=grads, **extras)


def model_base_from(hf_state, config):
    base = GPT2Model(config)
    base.load_state_dict({k[len("transformer."):]: v for k, v in hf_state.items() if k.startswith("transformer.")})
    base.eval()
    return base


# ---------------------------------------------------------------- reload checks


def verify_reload(r, outroot):
    """from_pretrained on the written directory (transformers' default attention, SDPA) reproduces
    the logits; no missing, unexpected or mismatched keys; the file layout is what we describe."""
    name, out = r["name"], r["dir"]
    model, info = GPT2LMHeadModel.from_pretrained(out, output_loading_info=True)
    model.eval()
    for k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        check(not info.get(k), f"{name}: from_pretrained {k}: {info.get(k)}")
    check(model.lm_head.weight is model.transformer.wte.weight, f"{name}: reloaded lm_head is tied")
    with torch.no_grad():
        logits = model(r["input_ids"]).logits
    rel = rel_l2(logits.numpy(), r["logits"].numpy())
    check(rel < 1e-6, f"{name}: reloaded logits relative l2 {rel}")
    r["reload_rel"] = rel
    r["reload_impl"] = model.config._attn_implementation

    # Stored names and layouts.
    files = sorted(os.listdir(out))
    if r.get("shard"):
        with open(os.path.join(out, "model.safetensors.index.json")) as f:
            index = json.load(f)
        shards = sorted(set(index["weight_map"].values()))
        check(len(shards) > 1, f"{name}: sharded save wrote {len(shards)} shard")
        stored = {}
        for s in shards:
            stored.update(load_file(os.path.join(out, s)))
        check(set(stored) == set(index["weight_map"]), f"{name}: index weight_map = union of shard keys")
        r["shards"] = shards
        r["index_metadata"] = index.get("metadata")
    else:
        stored = load_file(os.path.join(out, "model.safetensors"))
    check("lm_head.weight" not in stored, f"{name}: save_pretrained omitted the tied lm_head.weight")
    check(set(stored) == set(r["hf_state"]) - {"lm_head.weight"}, f"{name}: stored keys")
    for k, v in stored.items():
        check(v.dtype == torch.float32 and torch.equal(v, r["hf_state"][k]), f"{name}: stored {k}")
    c_attn = stored["transformer.h.0.attn.c_attn.weight"]
    check(tuple(c_attn.shape) == (r["D"], 3 * r["D"]), f"{name}: c_attn stored (in, out)")
    r["files"] = files

    grads = load_file(os.path.join(out, "grads.safetensors"))
    check(set(grads) == set(stored), f"{name}: grads cover every stored tensor")

    if r.get("nanogpt"):
        sd = load_file(os.path.join(out, "nanogpt.safetensors"))
        with torch.no_grad():
            ng = nanogpt_forward(sd, r["input_ids"], r["L"], r["H"])
        r["nanogpt_rel"] = rel_l2(ng.numpy(), r["logits"].numpy())
        check(r["nanogpt_rel"] < 1e-6, f"{name}: nanoGPT forward relative l2 {r['nanogpt_rel']}")
        check(tuple(sd["transformer.h.0.attn.c_attn.weight"].shape) == (3 * r["D"], r["D"]), "nanoGPT (out, in)")
    if r.get("base_model"):
        base_dir = os.path.join(outroot, r["name"] + "-base")
        keys = list(load_file(os.path.join(base_dir, "model.safetensors")))
        check(all(not k.startswith("transformer.") for k in keys), "base model keys have no transformer. prefix")
        m2, info2 = GPT2LMHeadModel.from_pretrained(base_dir, output_loading_info=True)
        check(not info2.get("missing_keys") and not info2.get("unexpected_keys"), f"base load info {info2}")
        with torch.no_grad():
            r["base_rel"] = rel_l2(m2.eval()(r["input_ids"]).logits.numpy(), r["logits"].numpy())
        check(r["base_rel"] < 1e-6, f"{name}-base: logits relative l2 {r['base_rel']}")
        r["base_files"] = sorted(os.listdir(base_dir))


# ---------------------------------------------------------------- transformers' GPT-2, as measured


def transformers_facts():
    """What a reimplementation must match, read off this transformers version's objects."""
    from transformers.activations import ACT2FN
    from transformers.masking_utils import create_causal_mask
    c = CONFIGS[1]
    model = GPT2LMHeadModel(gpt2_config(c, c["V"] - 1))
    model.set_attn_implementation("eager")
    attn = model.transformer.h[0].attn
    dk = c["D"] // c["H"]
    check(abs(attn.scaling - dk ** -0.5) < 1e-15, "attention scale 1/sqrt(dk)")
    check(not model.config.scale_attn_by_inverse_layer_idx and not model.config.reorder_and_upcast_attn,
          "no layer-index scaling, no reordered upcast")
    lns = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    check(all(m.eps == 1e-5 for m in lns), "LayerNorm eps 1e-5")
    check(model.config.activation_function == "gelu_new", "gelu_new")
    x = torch.linspace(-8, 8, 200001)
    gelu_new = ACT2FN["gelu_new"](x)
    by_formula = 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    check(torch.equal(gelu_new, by_formula), "gelu_new is the tanh formula")
    gelu_vs_fused = float((gelu_new - F.gelu(x, approximate="tanh")).abs().max())
    ids = torch.zeros(1, 4, dtype=torch.int64)
    mask = create_causal_mask(config=model.config, inputs_embeds=model.transformer.wte(ids), attention_mask=None,
                              cache=None, position_ids=torch.arange(4)[None])
    check(mask is not None and float(mask[0, 0, 0, 1]) == torch.finfo(torch.float32).min and float(mask[0, 0, 1, 0]) == 0,
          "eager causal mask is 0 / finfo(float32).min")
    check(model.config.n_inner is None and model.transformer.h[0].mlp.c_fc.nf == 4 * c["D"], "MLP width 4D")
    return {"gelu_vs_fused": gelu_vs_fused, "mask_min": float(mask[0, 0, 0, 1])}


# ---------------------------------------------------------------- README


def dir_size(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def write_readme(outroot, results, tok_cases, tok_loaded, versions, facts):
    lines = []
    w = lines.append
    w("# Hugging Face / nanoGPT / byte-level BPE fixtures")
    w("")
    w("Written by `python/tools/make_hf_fixtures.py` (do not edit by hand; rerun the script). Random")
    w("`GPT2LMHeadModel`s built with transformers, their outputs, gradients and one `torch.optim.AdamW`")
    w("step, for tt-ckpt's gpt2 tests to compare against. Float32 throughout; one CPU thread; seeded: a rerun")
    w("with the same package versions writes the same bytes (checked by running it twice and diffing).")
    w("")
    w("    python3 python/tools/make_hf_fixtures.py Tests/Fixtures/hf     # needs torch + transformers, ~10 s")
    w("")
    w("`fixtures.json` lists the configurations (dimensions, seed, `n_targets`, the loss as a decimal) for")
    w("tests to iterate over; `tokenizer_checks.json` holds the tokenizer cases.")
    w("")
    w("## Versions that wrote these files")
    w("")
    w("| package | version |")
    w("|---|---|")
    for k, v in versions.items():
        w(f"| {k} | {v} |")
    w("")
    w("## Configurations")
    w("")
    w("T is both `n_positions` and the input length; B the batch; bos = eos = V − 1.")
    w("")
    w("| directory | L | T | V | D | H | d_k | B | params | loss | targets | logits std | mean max attn prob | extras |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        extras = []
        if r.get("ignore"):
            extras.append("labels with -100")
        if r.get("tokenizer"):
            extras.append("BPE tokenizer, input = encoded text")
        if r.get("shard"):
            extras.append(f"sharded ({len(r['shards'])} shards, max_shard_size {r['shard']})")
        if r.get("nanogpt"):
            extras.append("nanoGPT state dict")
        if r.get("base_model"):
            extras.append(f"`{r['name']}-base/` (GPT2Model save)")
        w(f"| `{r['name']}/` | {r['L']} | {r['T']} | {r['V']} | {r['D']} | {r['H']} | {r['D'] // r['H']} | {r['B']} | "
          f"{r['params']} | {r['loss']:.6f} | {r['n_targets']} | {r['logits_std']:.3f} | {r['attn_max']:.3f} | "
          f"{'; '.join(extras) or '—'} |")
    w("")
    w("\"params\" counts the tied wte/lm_head once. \"mean max attn prob\": the mean over layers, heads and query")
    w("positions of the largest attention probability, to show attention is far from uniform.")
    w("")
    w("## Weights")
    w("")
    w("transformers' initialization (weights N(0, 0.02), biases 0, LayerNorm γ 1 β 0) would leave attention")
    w("nearly uniform and make a dropped bias or gain invisible, so after `GPT2LMHeadModel(config)` every")
    w("tensor is redrawn from `torch.Generator().manual_seed(seed)` in `named_parameters()` order:")
    w("wte N(0, (2/√D)²), wpe N(0, (1/√D)²), `attn.c_attn.weight` N(0, (1.5/√D)²), the other Conv1D weights")
    w("N(0, 1/in), biases and LayerNorm β N(0, 0.2²), LayerNorm γ 1 + N(0, 0.2²). Input ids (except the BPE")
    w("config) are `torch.randint(0, V, (B, T))` from the same generator, after the redraw.")
    w("")
    w("## Files in each `<config>/`")
    w("")
    w("- `config.json`, `generation_config.json`, `model.safetensors`: exactly as `model.save_pretrained(dir)`")
    w("  writes them (transformers 5 always writes safetensors; there is no `safe_serialization` argument).")
    w("  Tensor names are `GPT2LMHeadModel.state_dict()` names: `transformer.wte.weight` (V, D),")
    w("  `transformer.wpe.weight` (T, D), `transformer.h.N.{ln_1,ln_2}.{weight,bias}` (D),")
    w("  `transformer.h.N.attn.c_attn.weight` (D, 3D) + `.bias` (3D) with columns [q | k | v], each split into")
    w("  H heads of d_k consecutive columns, `transformer.h.N.attn.c_proj.weight` (D, D),")
    w("  `transformer.h.N.mlp.c_fc.weight` (D, 4D), `transformer.h.N.mlp.c_proj.weight` (4D, D) with biases,")
    w("  `transformer.ln_f.{weight,bias}` (D). The four Conv1D weights are stored (in, out): y = x·W + b.")
    w("  **`lm_head.weight` is not stored**: it is tied to `transformer.wte.weight` and `save_pretrained`")
    w("  removes tied weights; `from_pretrained` re-ties it (`tie_word_embeddings: true` in config.json).")
    w("  No `attn.bias` / `attn.masked_bias` buffers are written by this transformers version. The header")
    w("  metadata is `{\"format\": \"pt\"}`.")
    w("- Sharded config: `model.safetensors.index.json` (`metadata.total_parameters`, `metadata.total_size`,")
    w("  `weight_map`: tensor name → shard file) and `model-0000i-of-0000n.safetensors`; no `model.safetensors`.")
    w("- `io.safetensors`: `input_ids` (B, T) I64; `labels` (B, T) I64 (= input_ids, with -100 at some")
    w("  positions in the `-ignore` config); `logits` (B, T, V) F32 from `model(input_ids)` in eval mode with")
    w("  dropout 0 and eager attention; `loss` () F32 from `model(input_ids, labels=labels)`. For the BPE")
    w("  config the header metadata has one key, `text`: a string whose encoding is exactly `input_ids`")
    w("  flattened row by row. (`n_targets` and the loss as a decimal are in `../fixtures.json`.)")
    w("- `grads.safetensors`: d loss / d θ for every name of `model.named_parameters()` (the tied tensor once,")
    w("  as `transformer.wte.weight`; its gradient is the sum of the embedding and the LM-head uses), in the")
    w("  stored (in, out) layout. F32.")
    w("- `after_adamw.safetensors`: every parameter (same names) after exactly one `optimizer.step()` from")
    w("  these gradients, starting from the weights in `model.safetensors`.")
    w("- `adamw_state.safetensors`: `<name>.exp_avg` and `<name>.exp_avg_sq` after that step for the names in")
    w("  `adamw.json` `moments_written`; metadata `step` = 1.0 (torch's `state['step']`).")
    w("- `adamw.json`: the hyperparameters and the two param groups by name.")
    w("")
    w("## The loss and the label shift")
    w("")
    w("`GPT2LMHeadModel` shifts the labels itself (`transformers.loss.loss_utils.ForCausalLMLoss`): it pads")
    w("`labels` on the right with -100 and drops the first column, so the logits at position t are scored")
    w("against `labels[:, t+1]`; the last position of each row has no target. Equivalently:")
    w("")
    w("```")
    w("loss = sum over b, t in [0, T-1) with labels[b, t+1] != -100 of")
    w("         logsumexp(logits[b, t, :]) - logits[b, t, labels[b, t+1]]")
    w("       / (number of such (b, t))                      # n_targets in fixtures.json")
    w("```")
    w("")
    w("i.e. `F.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)`,")
    w("mean over the non-ignored targets only (not over B·(T−1)); `labels[:, 0]` is never used. The script")
    w("checks this formula against the model's loss (relative difference < 1e-6). With labels = input_ids =")
    w("t[s..s+T) this scores positions 0..T−2 against t[s+1..s+T): tt-ckpt's window (inputs t[s..s+T),")
    w("targets t[s+1..s+T+1)) without its last target, so B·(T−1) targets when nothing is ignored.")
    w("")
    w("## AdamW")
    w("")
    w("`torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, amsgrad=False, maximize=False,")
    w("foreach=False, fused=False)`, groups as nanoGPT's `configure_optimizers`: weight_decay 0.1 for every")
    w("parameter with `p.dim() >= 2` (wte — hence also the tied head —, wpe and the four Conv1D weights per")
    w("layer), 0.0 for the rest (biases, LayerNorm γ and β). One step from zero moments, step t = 1, per element")
    w("in float32, the order of `torch.optim.adam._single_tensor_adam`:")
    w("")
    w("```")
    w("p  = p * (1 - lr*wd)                       # decoupled decay first, on the old p")
    w("m  = m + (1-β1)*(g - m)                    # exp_avg.lerp_(g, 1-β1)      -> 0.1 g at t = 1")
    w("v  = v*β2 + (1-β2)*g*g                     # -> 0.001 g² at t = 1")
    w("denom = sqrt(v) / sqrt(1 - β2^t) + eps     # eps added after the bias correction of sqrt(v)")
    w("p  = p - (lr / (1 - β1^t)) * m / denom")
    w("```")
    w("")
    w("The script recomputes this in numpy float32 and checks it against torch (max |Δ| over all configs")
    w(f"{max(r['adam_ref_max'] for r in results):.3g}, float32 rounding of the operation order).")
    w("")
    w("**Gradients near zero.** At t = 1 the update is lr·g/(|g| + eps): about ±lr whatever |g| is, but where")
    w("|g| is near eps = 1e-8 it depends on g's last digits. Two groups of elements have such gradients:")
    w("")
    w("- row T−1 of `transformer.wpe.weight`: exactly 0 (the last position has no target and no later")
    w("  position sees it), so its `after_adamw` value is p·(1 − lr·wd) exactly;")
    w("- the key third of every `attn.c_attn.bias` (elements D..2D−1): analytically 0 (adding b to every key")
    w("  adds q·b to a whole row of scores, which softmax ignores), so the stored values are float32 rounding")
    w("  noise of the size of eps, and `after_adamw` there is noise-determined (anywhere in ±lr).")
    w("")
    w("So compare gradients of the key-bias slice with an absolute tolerance, and test the optimizer by")
    w("feeding `grads.safetensors` (not tt-ckpt's own gradients) into one step and comparing with")
    w("`after_adamw.safetensors`; an end-to-end comparison must leave out elements with |g| < ~1e-6.")
    w("")
    w("| config | wpe row T−1 \\|g\\| max | key-bias \\|g\\| max | other elements with \\|g\\| < 1e-6 | smallest other \\|g\\| |")
    w("|---|---|---|---|---|")
    for r in results:
        D, T = r["D"], r["T"]
        wpe_last = float(r["grads"]["transformer.wpe.weight"][T - 1].abs().max())
        kb = max(float(r["grads"][f"transformer.h.{l}.attn.c_attn.bias"][D:2 * D].abs().max()) for l in range(r["L"]))
        rest = []
        for n, g in r["grads"].items():
            g = g.abs().clone()
            if n == "transformer.wpe.weight":
                g = g[: T - 1]
            if n.endswith("attn.c_attn.bias"):
                g = torch.cat([g[:D], g[2 * D:]])
            rest.append(g.reshape(-1))
        rest = torch.cat(rest)
        w(f"| `{r['name']}` | {wpe_last:.3g} | {kb:.3g} | {int((rest < 1e-6).sum())} of {rest.numel()} | "
          f"{float(rest.min()):.3g} |")
    w("")
    w("## nanoGPT state dict (`l1-t8-v97/nanogpt.safetensors`)")
    w("")
    w("The `l1-t8-v97` weights renamed and laid out as nanoGPT's `GPT` module holds them, made the way")
    w("nanoGPT's `GPT.from_pretrained` converts a transformers checkpoint: same names, and the four Conv1D")
    w("weights (`attn.c_attn`, `attn.c_proj`, `mlp.c_fc`, `mlp.c_proj` `.weight`) transposed to nn.Linear's")
    w("(out, in). Both `transformer.wte.weight` and `lm_head.weight` are present with equal values (nanoGPT's")
    w("state_dict lists both names of the tied tensor; safetensors cannot store shared tensors, so it is")
    w("written twice). No `attn.bias` mask buffer (nanoGPT only has it without flash attention) and no")
    w("`_orig_mod.` prefix (which torch.compile adds in nanoGPT's ckpt.pt). Shapes do not give the number of")
    w("heads: `nanogpt_model_args.json` holds nanoGPT's `model_args` dict. The script runs nanoGPT's forward")
    w("(F.linear, SDPA causal, GELU tanh) on this file and matches `io.safetensors` logits")
    nr = [r for r in results if r.get("nanogpt")][0]
    w(f"(relative ℓ2 {nr['nanogpt_rel']:.3g}).")
    w("")
    w(f"`{nr['name']}-base/` is `GPT2Model(config).save_pretrained(dir)` with the same weights: tensor names")
    w("without the `transformer.` prefix and no lm_head, as the hub's `openai-community/gpt2` files are named;")
    w("`GPT2LMHeadModel.from_pretrained` loads it (adding the prefix, tying the head) and reproduces")
    w(f"`{nr['name']}/io.safetensors` logits (relative ℓ2 {nr['base_rel']:.3g}). Its config.json says")
    w("`\"architectures\": [\"GPT2Model\"]`.")
    w("")
    tr = [r for r in results if r.get("tokenizer")][0]
    w(f"## Tokenizer (`{tr['name']}/`)")
    w("")
    w("`tokenizers.ByteLevelBPETokenizer()` trained with `train_from_iterator([corpus.txt text],")
    w(f"vocab_size={tr['V'] - 1}, min_frequency=2, special_tokens=[])` (256 byte symbols + {tr['V'] - 257} merges), then")
    w(f"rebuilt from that vocab + merges with `<|endoftext|>` appended as id {tr['V'] - 1} and registered with")
    w("`add_special_tokens`, the layout of GPT-2's own files. Written by `save_model` (`vocab.json`,")
    w("`merges.txt` with a `#version: 0.2` first line) and `save` (`tokenizer.json`; its `model.merges` are")
    w("[left, right] pairs, the newer tokenizers format; older files such as the hub's gpt2 tokenizer.json use")
    w("\"left right\" strings). Pre-tokenizer ByteLevel(add_prefix_space=false, use_regex=true): GPT-2's")
    w("pattern; no normalizer; the BPE model has no unk token, dropout null.")
    w("")
    w("`GPT2TokenizerFast.from_pretrained(dir)` loads the directory (and also `tokenizer.json` alone, and")
    w("`vocab.json` + `merges.txt` alone) and encodes every text in `tokenizer_checks.json` to the same ids as")
    w("`tokenizers`; decode(encode(x)) == x for each. Loaded as:")
    w("")
    for label, v in tok_loaded.items():
        w(f"- {label}: `{v['class']}`, {v['len']} tokens, bos {v['bos_token_id']}, eos {v['eos_token_id']}")
    w("")
    w(f"`tokenizer_checks.json` ({len(tok_cases)} cases: Unicode, emoji with modifiers and ZWJ, flags, CJK,")
    w("digits, runs of spaces, tabs, newlines, CRLF, contractions, the end-of-text token in text, the empty")
    w("string) holds for each the text, the ids and the token strings (byte-to-unicode mapped). None of these")
    w("texts is in `corpus.txt`. `<|endoftext|>` in text is encoded as the special id (tokenizers' default).")
    w("")
    w("## What a reimplementation must match (checked on this transformers version by the script)")
    w("")
    w("- Embedding: h = wte[input_ids] + wpe[arange(T)] (positions start at 0, or at the cache length).")
    w("- Block: h = h + attn(ln_1(h)); h = h + mlp(ln_2(h)); then ln_f; logits = ln_f(h) · wteᵀ (tied, no bias).")
    w("- LayerNorm: nn.LayerNorm, biased variance, eps = `layer_norm_epsilon` = 1e-5, inside the sqrt.")
    w("- Attention: qkv = x·c_attn.weight + c_attn.bias split into q | k | v along the last axis (D each), each")
    w("  viewed as (H, d_k) with head h at columns h·d_k..(h+1)·d_k; scores = q·kᵀ · d_k^(−1/2)")
    w("  (`scale_attn_weights` true, `scale_attn_by_inverse_layer_idx` false, `reorder_and_upcast_attn`")
    w(f"  false); eager attention adds a mask of 0 / {facts['mask_min']:.7g} (torch.finfo(float32).min, not −inf)")
    w("  before softmax, so masked weights are exactly 0; SDPA (the default) uses a boolean causal mask; the")
    w("  two agree (figure below). Heads are concatenated back in order, then c_proj.")
    w("- MLP: c_fc (D → 4D, `n_inner` null), `gelu_new` = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) computed")
    w("  with elementwise torch ops (x³ by `torch.pow`), then c_proj (4D → D). It is not bit-identical to")
    w(f"  torch's fused `F.gelu(x, approximate=\"tanh\")`: max |Δ| {facts['gelu_vs_fused']:.3g} on [−8, 8].")
    w("- Dropout: embd_pdrop after the embedding sum, attn_pdrop on the attention weights, resid_pdrop after")
    w("  each c_proj; all 0 here (and inactive in eval mode).")
    w("- Loss: the shift and the -100 rule above; mean over the counted targets, computed in float32 logits")
    w("  (`logits.float()`).")
    w("- config.json (transformers 5) writes `dtype` (4.x wrote `torch_dtype`) and no `n_ctx`; older files")
    w("  (the hub's gpt2) also carry `n_ctx` (= n_positions). A key that is absent takes GPT2Config's")
    w("  default (the values of gpt2-124m: 50257, 1024, 768, 12, 12, gelu_new, 1e-5, tied).")
    w("- Older checkpoints (the hub's original gpt2 files, names without `transformer.`) carry `h.N.attn.bias`")
    w("  causal-mask buffers, and some `h.N.attn.masked_bias`: not parameters. This transformers version")
    w("  never writes them (no fixture has them); on load it drops `attn.bias` silently")
    w("  (`_keys_to_ignore_on_load_unexpected`) and reports `attn.masked_bias` as an unexpected key (tried by")
    w("  hand, not a fixture). An importer should skip both by name.")
    w("")
    w("## Other checks the script made")
    w("")
    w("- Eager and SDPA attention give the same logits (largest relative ℓ2 "
      f"{max(r['sdpa_rel'] for r in results):.3g}).")
    w("- `GPT2LMHeadModel.from_pretrained(<config>/)` (default attention: "
      f"{results[0]['reload_impl']}) loads with no missing, unexpected or mismatched keys, re-ties the head,")
    w(f"  and reproduces `io.safetensors` logits (largest relative ℓ2 {max(r['reload_rel'] for r in results):.3g}).")
    w("- Stored tensors equal the model's state dict bit for bit, all F32; c_attn is stored (D, 3D).")
    w("")
    w("## Sizes")
    w("")
    w("| directory | bytes |")
    w("|---|---|")
    for d in sorted(os.listdir(outroot)):
        if os.path.isdir(os.path.join(outroot, d)):
            w(f"| `{d}/` | {dir_size(os.path.join(outroot, d))} |")
    w("")
    with open(os.path.join(outroot, "README.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", help="output directory (e.g. Tests/Fixtures/hf); replaced entirely")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    outroot = args.outdir.rstrip("/")
    if os.path.exists(outroot):
        check(os.path.isdir(outroot), f"{outroot} exists and is not a directory")
        for entry in os.listdir(outroot):
            check(entry == "README.md" or entry == "tokenizer_checks.json" or entry == "fixtures.json"
                  or os.path.isdir(os.path.join(outroot, entry)), f"unexpected file {entry} in {outroot}; not replacing")
        shutil.rmtree(outroot)
    os.makedirs(outroot)
    tmp = os.path.join(outroot, ".tmp")
    os.makedirs(tmp)

    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                "safetensors": safetensors.__version__, "numpy": np.__version__}

    tok_config = [c for c in CONFIGS if c.get("tokenizer")]
    check(len(tok_config) == 1, "one tokenizer config")
    tok = build_tokenizer(os.path.join(tmp, "tokenizer"), tok_config[0]["V"])
    tok_cases, tok_loaded = verify_tokenizer(tok, os.path.join(tmp, "tokenizer"), tmp)
    with open(os.path.join(outroot, "tokenizer_checks.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps({"tokenizer": tok_config[0]["name"], "cases": tok_cases}, indent=1, ensure_ascii=False) + "\n")

    results = []
    for c in CONFIGS:
        r = make_config(c, outroot, tmp, tok if c.get("tokenizer") else None)
        verify_reload(r, outroot)
        results.append(r)
        print(f"{c['name']}: loss {r['loss']:.6f}, reload rel l2 {r['reload_rel']:.2g}, sdpa rel l2 {r['sdpa_rel']:.2g}, "
              f"AdamW formula max|d| {r['adam_ref_max']:.2g}", flush=True)
    shutil.rmtree(tmp)

    manifest = {"versions": versions, "configs": [
        {k: r[k] for k in ("name", "L", "T", "V", "D", "H", "B", "seed", "n_targets", "loss")}
        | {"ignore_index": IGNORE_INDEX, "attn_implementation": "eager"}
        | {"sharded": bool(r.get("shard")), "ignore": bool(r.get("ignore")), "tokenizer": bool(r.get("tokenizer")),
           "nanogpt": bool(r.get("nanogpt")), "base_model": bool(r.get("base_model"))}
        for r in results]}
    with open(os.path.join(outroot, "fixtures.json"), "w") as f:
        f.write(json.dumps(manifest, indent=2) + "\n")
    write_readme(outroot, results, tok_cases, tok_loaded, versions, transformers_facts())
    total = dir_size(outroot)
    print(f"wrote {outroot}: {total} bytes")
    check(total < 3_000_000, f"fixtures are {total} bytes, over 3 MB")


if __name__ == "__main__":
    main()
