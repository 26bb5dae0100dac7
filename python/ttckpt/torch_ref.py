"""Reference PyTorch modules of tt-ckpt's engine, and a run's whole state both ways.

    import ttckpt
    from ttckpt import torch_ref
    ckpt = ttckpt.read("run.ttc")
    session = torch_ref.Session(ckpt, ttckpt.resolve_data(ckpt, "corpus.txt", "run.ttc"))
    session.model, session.optimizer, session.scheduler   # nn.Module, torch.optim.AdamW, LR scheduler
    session.train_step()                                  # one tt-ckpt step: batch, loss, clip, AdamW
    ttckpt.write(session.to_checkpoint(), "out.ttc")      # tt-ckpt resume continues from here

What the modules compute (README "The model", Sources/TTCkpt/Engine):
- ``tutorial``: x = tok_emb[t] + pos_emb[i]; per layer mh = Attn(x), x = LN(mh + FFN(mh)); no
  final LayerNorm. ``gpt``: pre-LN, x += Attn(LN1(x)); x += FFN(LN2(x)); then LN_f.
  Attention: causal, q_h = x·Wq[h] with Wq (H, D, dk), scores q·kᵀ·(1/√dk), concat(heads)·Woᵀ.
  FFN(z) = GELU(z·W1ᵀ + b1)·W2ᵀ + b2 with GELU's tanh approximation (autograd gives its true
  derivative, as the engine's backward). LayerNorm: biased variance, ε = 1e-5.
  logits = x·lm_headᵀ (untied).
- Loss: mean cross-entropy over the non-PAD targets of the whole batch (B sequences
  together); PAD targets are IGNORE (-1).
- AdamW (Ops.swift / ckernels.c ``CK_ADAMW_ELEMENT``): m = β1·m + (1−β1)·g;
  v = β2·v + (1−β2)·g²; θ ← θ·(1 − lr·wd) − lr·(m/(1−β1^t)) / (√(v/(1−β2^t)) + ε).
  ``torch.optim.AdamW`` computes θ ← θ·(1 − lr·wd) − (lr/(1−β1^t))·m / (√v/√(1−β2^t) + ε):
  the same function (ε added after the bias correction of √v in both, decay decoupled and
  multiplied by lr, applied before the update), with different rounding (lerp for m, √v
  divided by √(1−β2^t) instead of √ of v/(1−β2^t)): about 1 ulp of the update, so parameters
  agree to ~1e-10 after a step. Weight decay applies to every tensor, or with
  ``exempt_norm_and_bias`` not to biases and LayerNorm γ/β: two parameter groups.
- Clipping: the global ℓ2 norm √(Σ g²) summed in double; when grad_clip > 0 and the norm is
  above it, every gradient is multiplied by float32(grad_clip / norm). Not
  ``torch.nn.utils.clip_grad_norm_``, whose factor is max_norm/(norm + 1e-6).
- The learning rate of step t is ``OptimizerSettings.lr_at(t)``; ``TTCSchedule`` is an
  ``LRScheduler`` whose epoch is the count of steps taken, so after construction from a
  checkpoint at step s the optimizer's lr is that of step s + 1.

Adding an architecture: subclass ``RefModel`` with parameters whose ``named_parameters()``
names and shapes are the arch's canonical tensor names and shapes, set ``arch``, implement
``canonical_tensors(config)`` and ``forward(tokens) -> logits``, override ``is_norm_or_bias``
if its naming differs, and register it in ``ARCHS``. ``GPT2`` (transformers'
GPT2LMHeadModel, tied head) is built that way; its canonical names are transformers' own
for now (tt-ckpt has no gpt2 arch yet, so it is not in the .ttc reader's arch list).
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as Fn

from . import format as ttf
from .data import IGNORE, BatchSampler

__all__ = ["RefModel", "Tutorial", "GPT", "GPT2", "ARCHS", "build_model", "load_parameters", "make_optimizer",
           "TTCSchedule", "clip_gradients", "global_grad_norm", "loss_sum", "Session", "LN_EPS", "IGNORE"]

LN_EPS = 1e-5  # ModelConfig.layerNormEpsilon, both archs


# --- Modules ---------------------------------------------------------------------------------

class LayerNorm(nn.Module):
    """(N, C) → (x − mean)·rstd·gamma + beta, biased variance, ε = 1e-5."""

    def __init__(self, D, names=("gamma", "beta")):
        super().__init__()
        self._names = names
        self.register_parameter(names[0], nn.Parameter(torch.ones(D)))
        self.register_parameter(names[1], nn.Parameter(torch.zeros(D)))

    def forward(self, x):
        return Fn.layer_norm(x, (x.shape[-1],), getattr(self, self._names[0]), getattr(self, self._names[1]),
                             eps=LN_EPS)


def causal_attention(q, k, v):
    """q, k, v (B, H, T, hs) → (B, H, T, hs): softmax(q·kᵀ·scale, causal)·v. The scale is
    computed in float32 as the engine does: 1 / sqrt(float32(hs))."""
    T, hs = q.shape[-2], q.shape[-1]
    scale = float(np.float32(1) / np.sqrt(np.float32(hs)))
    scores = (q @ k.transpose(-1, -2)) * scale
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
    return torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v


class Attention(nn.Module):
    """wq, wk, wv (H, D, dk), wo (D, D): concat_h(softmax(q_h·k_hᵀ/√dk, causal)·v_h)·Woᵀ."""

    def __init__(self, D, H):
        super().__init__()
        dk = D // H
        self.wq = nn.Parameter(torch.zeros(H, D, dk))
        self.wk = nn.Parameter(torch.zeros(H, D, dk))
        self.wv = nn.Parameter(torch.zeros(H, D, dk))
        self.wo = nn.Parameter(torch.zeros(D, D))

    def forward(self, x):                                            # (B, T, D)
        B, T, D = x.shape
        q = torch.einsum("btd,hdk->bhtk", x, self.wq)               # (B, H, T, dk)
        k = torch.einsum("btd,hdk->bhtk", x, self.wk)
        v = torch.einsum("btd,hdk->bhtk", x, self.wv)
        heads = causal_attention(q, k, v).transpose(1, 2).reshape(B, T, D)  # head h at columns h·dk
        return heads @ self.wo.t()


class FFN(nn.Module):
    """w1 (F, D), b1 (F), w2 (D, F), b2 (D): GELU_tanh(z·W1ᵀ + b1)·W2ᵀ + b2."""

    def __init__(self, D, F):
        super().__init__()
        self.w1 = nn.Parameter(torch.zeros(F, D))
        self.b1 = nn.Parameter(torch.zeros(F))
        self.w2 = nn.Parameter(torch.zeros(D, F))
        self.b2 = nn.Parameter(torch.zeros(D))

    def forward(self, z):
        return Fn.gelu(z @ self.w1.t() + self.b1, approximate="tanh") @ self.w2.t() + self.b2


class RefModel(nn.Module):
    """Base of the reference modules: parameters named and shaped as the arch's canonical
    tensors. ``forward(tokens (B, S) int64) -> logits (B, S, V)``."""
    arch = None

    @staticmethod
    def canonical_tensors(config):
        raise NotImplementedError

    @staticmethod
    def is_norm_or_bias(name):
        return ttf.is_norm_or_bias(name)

    def canonical_names(self):
        return [name for name, _ in self.canonical_tensors(self.config)]

    def canonical_parameters(self):
        """[(canonical name, parameter)] in canonical order."""
        return [(name, self.get_parameter(name)) for name in self.canonical_names()]


class TutorialBlock(nn.Module):
    def __init__(self, D, H, F):
        super().__init__()
        self.attn, self.ffn, self.ln = Attention(D, H), FFN(D, F), LayerNorm(D)

    def forward(self, x):
        mh = self.attn(x)
        return self.ln(mh + self.ffn(mh))    # no residual from the block input


class GPTBlock(nn.Module):
    def __init__(self, D, H, F):
        super().__init__()
        self.ln1, self.attn, self.ln2, self.ffn = LayerNorm(D), Attention(D, H), LayerNorm(D), FFN(D, F)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.ffn(self.ln2(x))


class _TTCModel(RefModel):
    block = None

    def __init__(self, config):
        super().__init__()
        c = self.config = config
        self.tok_emb = nn.Parameter(torch.zeros(c.vocab_size, c.d_model))
        self.pos_emb = nn.Parameter(torch.zeros(c.context, c.d_model))
        self.layers = nn.ModuleList(self.block(c.d_model, c.n_heads, c.d_ff) for _ in range(c.n_layers))
        if c.arch == "gpt":
            self.ln_f = LayerNorm(c.d_model)
        self.lm_head = nn.Parameter(torch.zeros(c.vocab_size, c.d_model))

    @staticmethod
    def canonical_tensors(config):
        return config.canonical_tensors()

    def forward(self, tokens):
        S = tokens.shape[1]
        x = self.tok_emb[tokens] + self.pos_emb[:S]
        for layer in self.layers:
            x = layer(x)
        if self.config.arch == "gpt":
            x = self.ln_f(x)
        return x @ self.lm_head.t()


class Tutorial(_TTCModel):
    """arch ``tutorial``: the series' block."""
    arch = "tutorial"
    block = TutorialBlock


class GPT(_TTCModel):
    """arch ``gpt``: pre-LN GPT-2 style block, untied head, 4 LayerNorm vectors per layer + LN_f."""
    arch = "gpt"
    block = GPTBlock


class GPT2Config:
    """transformers' GPT2Config fields the model uses (n_inner None = 4·n_embd)."""

    def __init__(self, vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, n_inner=None,
                 layer_norm_epsilon=1e-5):
        self.arch = "gpt2"
        self.vocab_size, self.n_positions, self.n_embd = vocab_size, n_positions, n_embd
        self.n_layer, self.n_head, self.n_inner = n_layer, n_head, n_inner or 4 * n_embd
        self.layer_norm_epsilon = layer_norm_epsilon


class Conv1D(nn.Module):
    """transformers' Conv1D: weight (in, out), y = x·W + b."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return x @ self.weight + self.bias


class _GPT2Attention(nn.Module):
    def __init__(self, D, H):
        super().__init__()
        self.H = H
        self.c_attn, self.c_proj = Conv1D(D, 3 * D), Conv1D(D, D)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.c_attn(x).split(D, dim=2)                    # fused q | k | v
        q, k, v = (t.view(B, T, self.H, D // self.H).transpose(1, 2) for t in (q, k, v))
        return self.c_proj(causal_attention(q, k, v).transpose(1, 2).reshape(B, T, D))


class _GPT2MLP(nn.Module):
    def __init__(self, D, F):
        super().__init__()
        self.c_fc, self.c_proj = Conv1D(D, F), Conv1D(F, D)

    def forward(self, x):
        return self.c_proj(Fn.gelu(self.c_fc(x), approximate="tanh"))   # gelu_new


class _GPT2Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        D = c.n_embd
        self.ln_1 = nn.LayerNorm(D, eps=c.layer_norm_epsilon)
        self.attn = _GPT2Attention(D, c.n_head)
        self.ln_2 = nn.LayerNorm(D, eps=c.layer_norm_epsilon)
        self.mlp = _GPT2MLP(D, c.n_inner)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class _GPT2Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = nn.Embedding(c.n_positions, c.n_embd)
        self.h = nn.ModuleList(_GPT2Block(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd, eps=c.layer_norm_epsilon)


class GPT2(RefModel):
    """GPT-2 as transformers' GPT2LMHeadModel computes it without dropout: fused c_attn,
    Conv1D (in, out) weights, gelu_new (tanh GELU), LayerNorm ε from the config, the head tied
    to wte. Parameter names are transformers' (``transformer.h.0.attn.c_attn.weight``), so a
    GPT2LMHeadModel state dict loads with ``load_state_dict(..., strict=False)`` (it adds
    ``lm_head.weight``, the same tensor as wte, and attention mask buffers in old versions)."""
    arch = "gpt2"

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = _GPT2Transformer(config)

    @staticmethod
    def canonical_tensors(c):
        D, F = c.n_embd, c.n_inner
        out = [("transformer.wte.weight", (c.vocab_size, D)), ("transformer.wpe.weight", (c.n_positions, D))]
        for i in range(c.n_layer):
            p = f"transformer.h.{i}."
            out += [(p + "ln_1.weight", (D,)), (p + "ln_1.bias", (D,)),
                    (p + "attn.c_attn.weight", (D, 3 * D)), (p + "attn.c_attn.bias", (3 * D,)),
                    (p + "attn.c_proj.weight", (D, D)), (p + "attn.c_proj.bias", (D,)),
                    (p + "ln_2.weight", (D,)), (p + "ln_2.bias", (D,)),
                    (p + "mlp.c_fc.weight", (D, F)), (p + "mlp.c_fc.bias", (F,)),
                    (p + "mlp.c_proj.weight", (F, D)), (p + "mlp.c_proj.bias", (D,))]
        return out + [("transformer.ln_f.weight", (D,)), ("transformer.ln_f.bias", (D,))]

    @staticmethod
    def is_norm_or_bias(name):
        return name.endswith(".bias") or ".ln_" in name

    def forward(self, tokens):
        t = self.transformer
        x = t.wte(tokens) + t.wpe(torch.arange(tokens.shape[1], device=tokens.device))
        for block in t.h:
            x = block(x)
        return t.ln_f(x) @ t.wte.weight.t()


ARCHS = {cls.arch: cls for cls in (Tutorial, GPT, GPT2)}


def build_model(config):
    """The reference module for a config (``ttckpt.ModelConfig`` or ``GPT2Config``), float32,
    parameters zero (load them with ``load_parameters``)."""
    if config.arch not in ARCHS:
        raise ValueError(f"no reference module for arch {config.arch!r}")
    return ARCHS[config.arch](config)


def load_parameters(model, tensors):
    """Copies {canonical name: float32 array} into the module (every canonical name needed)."""
    with torch.no_grad():
        for name, p in model.canonical_parameters():
            value = torch.from_numpy(np.ascontiguousarray(tensors[name], np.float32))
            if tuple(value.shape) != tuple(p.shape):
                raise ValueError(f"tensor {name!r}: shape {tuple(value.shape)}, expected {tuple(p.shape)}")
            p.copy_(value)


# --- Loss, gradient norm, clipping ---------------------------------------------------------------

def loss_sum(logits, targets):
    """Σ cross-entropy over the non-IGNORE targets (float32), and their count."""
    V = logits.shape[-1]
    flat = targets.reshape(-1)
    return Fn.cross_entropy(logits.reshape(-1, V), flat, ignore_index=IGNORE, reduction="sum"), int((flat != IGNORE).sum())


def per_target_losses(logits, targets):
    """Cross-entropy per position (0 where the target is IGNORE), float32, for the engine's
    way of averaging: the float losses summed in double, divided by the count."""
    V = logits.shape[-1]
    return Fn.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=IGNORE, reduction="none")


def global_grad_norm(params):
    """√(Σ g²) over every gradient, summed in double (the engine's rule)."""
    total = torch.zeros((), dtype=torch.float64)
    for p in params:
        if p.grad is not None:
            total += p.grad.detach().double().pow(2).sum()
    return float(total.sqrt())


def clip_gradients(params, grad_clip):
    """tt-ckpt's clipping: with grad_clip > 0 and the global norm above it, multiplies every
    gradient by float32(grad_clip / norm). Returns the norm before clipping."""
    params = list(params)
    norm = global_grad_norm(params)
    if grad_clip > 0 and norm > grad_clip:
        scale = float(np.float32(grad_clip / norm))
        for p in params:
            if p.grad is not None:
                p.grad.mul_(scale)
    return norm


# --- Optimizer and schedule ----------------------------------------------------------------------

class TTCSchedule(torch.optim.lr_scheduler.LRScheduler):
    """tt-ckpt's learning-rate schedule (``OptimizerSettings.lr_at``) as a scheduler: its
    epoch counts the steps taken, and the lr it sets is that of the next step, exactly
    (no base_lr × factor rounding). Build it with ``last_epoch = steps taken − 1``."""

    def __init__(self, optimizer, settings, last_epoch=-1):
        self.settings = settings
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        lr = self.settings.lr_at(self.last_epoch + 1)
        return [lr for _ in self.optimizer.param_groups]


def make_optimizer(model, settings, step=0, moments=None):
    """``torch.optim.AdamW`` over the module's canonical parameters with the recorded
    hyperparameters (weight-decay groups per ``exempt_norm_and_bias``), its state filled from
    ``moments`` = {canonical name: (adam_m, adam_v)} with ``step`` = AdamW t of the last step,
    and a ``TTCSchedule`` at that step. Returns (optimizer, scheduler)."""
    named = model.canonical_parameters()
    decay = [p for n, p in named if not (settings.exempt_norm_and_bias and model.is_norm_or_bias(n))]
    exempt = [p for n, p in named if settings.exempt_norm_and_bias and model.is_norm_or_bias(n)]
    groups = [{"params": decay, "weight_decay": settings.weight_decay, "initial_lr": settings.lr}]
    if exempt:
        groups.append({"params": exempt, "weight_decay": 0.0, "initial_lr": settings.lr})
    optimizer = torch.optim.AdamW(groups, lr=settings.lr, betas=(settings.beta1, settings.beta2),
                                  eps=settings.epsilon, weight_decay=settings.weight_decay, foreach=False)
    for name, p in named:
        m, v = moments[name] if moments is not None else (np.zeros(p.shape, np.float32),) * 2
        optimizer.state[p] = {
            # torch keeps AdamW's step as a float32 tensor on CPU (exact up to 2^24 steps).
            "step": torch.tensor(float(step), dtype=torch.float32),
            "exp_avg": torch.from_numpy(np.array(m, np.float32)).reshape(p.shape),
            "exp_avg_sq": torch.from_numpy(np.array(v, np.float32)).reshape(p.shape),
        }
    scheduler = TTCSchedule(optimizer, settings, last_epoch=step - 1)
    return optimizer, scheduler


def optimizer_moments(model, optimizer):
    """{canonical name: (adam_m, adam_v, step)} from the optimizer's state."""
    out = {}
    for name, p in model.canonical_parameters():
        s = optimizer.state.get(p) or {}
        if "exp_avg" in s:
            out[name] = (s["exp_avg"].detach().cpu().numpy().astype(np.float32),
                         s["exp_avg_sq"].detach().cpu().numpy().astype(np.float32), int(float(s["step"])))
        else:
            out[name] = (np.zeros(tuple(p.shape), np.float32), np.zeros(tuple(p.shape), np.float32), 0)
    return out


# --- A training session -------------------------------------------------------------------------

def shard_rows(batch_size, rank, world):
    """The rows of the global batch rank ``rank`` of ``world`` takes: a contiguous share,
    sizes differing by at most one."""
    if not 1 <= world <= batch_size:
        raise ValueError(f"{world} ranks cannot share a batch of {batch_size} sequences (each needs at least one)")
    return slice(rank * batch_size // world, (rank + 1) * batch_size // world)


class Session:
    """A checkpoint's run continued in PyTorch, step by step as tt-ckpt's ``TrainingSession``:
    each step draws the next global batch from the restored generator (every rank draws the
    same, so generators stay in step), computes the loss on this rank's share of the rows,
    back-propagates, clips, takes one AdamW step and advances step, tokens seen, loss history
    and the data cursor. ``session_starts`` is left as it is, as ``tt-ckpt resume`` does
    (``new_session=True`` appends the current step, as ``tt-ckpt train`` does).

    Under DistributedDataParallel pass the wrapped module to ``train_step(module=...)``; the
    loss of rank r is W·Σ_{rows of r} CE / N with N the non-PAD targets of the whole batch, so
    DDP's average of the W gradients is the gradient of the global mean loss."""

    def __init__(self, ckpt, data, rank=0, world=1, new_session=False):
        self.ckpt, self.rank, self.world = ckpt, rank, world
        t = ckpt.training
        self.model = build_model(ckpt.config)
        load_parameters(self.model, ckpt.by_role("parameter"))
        m, v = ckpt.by_role("adam_m"), ckpt.by_role("adam_v")
        self.optimizer, self.scheduler = make_optimizer(self.model, t.optimizer, t.step,
                                                        {n: (m[n], v[n]) for n in self.model.canonical_names()})
        self.rng = t.rng.to_random()
        self.sampler = BatchSampler(data.tokens, ckpt.config.context, t.batch_size, ckpt.vocab.pad_id)
        self.rows = shard_rows(t.batch_size, rank, world)
        self.data_identity = t.data if t.data is not None else data.identity
        self.step, self.tokens_seen, self.windows_drawn = t.step, t.tokens_seen, t.windows_drawn
        self.loss_history = [np.float32(x) for x in t.loss_history]
        self.session_starts = list(t.session_starts) + ([t.step] if new_session else [])

    def train_step(self, module=None, all_reduce=None):
        """One step. ``module``: the module to run (e.g. the DDP wrapper of ``self.model``);
        ``all_reduce``: sums a float64 tensor over ranks in place (needed when world > 1, for
        the recorded loss). Returns (loss as recorded, grad norm before clipping, lr used)."""
        module = module if module is not None else self.model
        batch = self.sampler.next_batch(self.rng)
        self.windows_drawn += self.sampler.batch_size
        count = batch.target_count
        tokens = torch.from_numpy(batch.tokens[self.rows])
        targets = torch.from_numpy(batch.targets[self.rows])
        self.optimizer.zero_grad(set_to_none=True)
        logits = module(tokens)
        losses = per_target_losses(logits, targets)
        # The gradient of the global mean: rank r weights its sum by W/N (DDP averages).
        objective = losses.sum() * (self.world / count if count else 0.0)
        objective.backward()
        # The recorded loss as the engine computes it: float losses summed in double / N.
        total = losses.detach().double().sum()
        if self.world > 1:
            all_reduce(total)
        loss = np.float32(float(total) / count) if count else np.float32(0)
        lr = self.optimizer.param_groups[0]["lr"]
        norm = clip_gradients(self.model.parameters(), self.ckpt.training.optimizer.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        self.tokens_seen += count
        self.loss_history.append(loss)
        return loss, norm, lr

    def to_checkpoint(self):
        """The run's state as a checkpoint tt-ckpt resumes: parameters, adam_m, adam_v from
        the module and optimizer; step, tokens seen, loss history, generator state and data
        cursor as advanced; hyperparameters, batch size, seed, data identity as recorded."""
        t = self.ckpt.training
        moments = optimizer_moments(self.model, self.optimizer)
        steps = {s for _, _, s in moments.values()}
        if steps - {self.step}:
            raise RuntimeError(f"optimizer steps {sorted(steps)} differ from the session's step {self.step}")
        training = ttf.TrainingState(
            rng=ttf.GeneratorState.from_random(self.rng), step=self.step, tokens_seen=self.tokens_seen, seed=t.seed,
            batch_size=t.batch_size, optimizer=t.optimizer, data=self.data_identity,
            windows_drawn=self.windows_drawn, loss_history=np.array(self.loss_history, np.float32),
            session_starts=self.session_starts)
        params = dict(self.model.canonical_parameters())
        names = self.model.canonical_names()
        tensors = [ttf.Tensor(n, "parameter", params[n].detach().cpu().numpy().astype(np.float32).copy()) for n in names]
        tensors += [ttf.Tensor("adam_m." + n, "adam_m", moments[n][0]) for n in names]
        tensors += [ttf.Tensor("adam_v." + n, "adam_v", moments[n][1]) for n in names]
        return self.ckpt.replace(training=training, tensors=tensors, tool_version=ttf.PYTHON_TOOL_VERSION)
