"""A tt-ckpt run continued under FSDP2 (``torch.distributed.fsdp.fully_shard``, CPU, gloo),
saved as a torch.distributed.checkpoint (DCP) directory, and that directory converted back
to a ``.ttc``.

``FSDPSession`` trains as ``torch_ref.Session`` does (same batches, loss weighting, clipping,
AdamW, schedule) with parameters, gradients and AdamW moments sharded over the ranks: each
block and the root are ``fully_shard``-ed, so each rank holds a dim-0 shard of every tensor.
``save_dcp`` writes the sharded model and optimizer state dicts plus the run's non-tensor
state (a JSON string: config, vocabulary, optimizer settings, generator, cursor, loss
history, ...) with ``torch.distributed.checkpoint.save``; ``checkpoint_from_dcp`` reads that
directory in one process, without a process group, and returns the ``Checkpoint``.
"""
import json

import numpy as np
import torch
import torch.distributed as dist

from . import format as ttf
from . import torch_ref
from .data import BatchSampler

STATE_KEY = "ttc_state_json"


def _mesh(world):
    from torch.distributed.device_mesh import init_device_mesh
    return init_device_mesh("cpu", (world,))


def _state_json(ckpt, session):
    c, t = ckpt, ckpt.training
    return json.dumps({
        "config": c.config.__dict__, "vocab": {"kind": c.vocab.kind, "tokens": c.vocab.tokens},
        "optimizer": t.optimizer.__dict__, "seed": t.seed, "batch_size": t.batch_size,
        "data": None if session.data_identity is None else session.data_identity.__dict__,
        "rng": {"words": list(session.rng_state.words), "index": session.rng_state.index,
                "gauss_next": session.rng_state.gauss_next},
        "step": session.step, "tokens_seen": session.tokens_seen, "windows_drawn": session.windows_drawn,
        # float32 losses as their bit patterns, so they round-trip exactly
        "loss_history_bits": np.array(session.loss_history, np.float32).view(np.uint32).tolist(),
        "session_starts": session.session_starts,
    })


class FSDPSession:
    def __init__(self, ckpt, data, rank, world):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict
        from torch.distributed.fsdp import fully_shard
        self.ckpt, self.rank, self.world = ckpt, rank, world
        t = ckpt.training
        model = torch_ref.build_model(ckpt.config)
        torch_ref.load_parameters(model, ckpt.by_role("parameter"))
        mesh = _mesh(world)
        for layer in model.layers:
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
        self.model = model
        # Optimizer over the sharded (DTensor) parameters, groups as torch_ref.make_optimizer;
        # the moments go in as a full (unsharded) optimizer state dict keyed by name, which
        # set_optimizer_state_dict shards.
        o = t.optimizer
        named = model.canonical_parameters()
        exempt = [n for n, _ in named if o.exempt_norm_and_bias and model.is_norm_or_bias(n)]
        groups = [{"params": [p for n, p in named if n not in exempt], "weight_decay": o.weight_decay,
                   "initial_lr": o.lr}]
        if exempt:
            groups.append({"params": [p for n, p in named if n in exempt], "weight_decay": 0.0, "initial_lr": o.lr})
        self.optimizer = torch.optim.AdamW(groups, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.epsilon,
                                           weight_decay=o.weight_decay, foreach=False)
        m, v = ckpt.by_role("adam_m"), ckpt.by_role("adam_v")
        full = {"state": {n: {"step": torch.tensor(float(t.step)), "exp_avg": torch.from_numpy(m[n].copy()),
                              "exp_avg_sq": torch.from_numpy(v[n].copy())} for n, _ in named},
                "param_groups": [{**{k: val for k, val in g.items() if k != "params"},
                                  "params": [n for n, _ in named if (n in exempt) == (i == 1)]}
                                 for i, g in enumerate(self.optimizer.param_groups)]}
        set_optimizer_state_dict(model, self.optimizer, full, options=StateDictOptions(full_state_dict=True))
        self.scheduler = torch_ref.TTCSchedule(self.optimizer, o, last_epoch=t.step - 1)
        self.rng = t.rng.to_random()
        self.sampler = BatchSampler(data.tokens, ckpt.config.context, t.batch_size, ckpt.vocab.pad_id)
        self.rows = torch_ref.shard_rows(t.batch_size, rank, world)
        self.data_identity = t.data if t.data is not None else data.identity
        self.step, self.tokens_seen, self.windows_drawn = t.step, t.tokens_seen, t.windows_drawn
        self.loss_history = [np.float32(x) for x in t.loss_history]
        self.session_starts = list(t.session_starts)

    @property
    def rng_state(self):
        return ttf.GeneratorState.from_random(self.rng)

    def _grad_norm(self):
        """√(Σ g²) over the full gradients: local shards summed in double, then all-reduced."""
        total = torch.zeros(1, dtype=torch.float64)
        for p in self.model.parameters():
            if p.grad is not None:
                total += p.grad.to_local().double().pow(2).sum()
        dist.all_reduce(total)
        return float(total.sqrt())

    def train_step(self):
        batch = self.sampler.next_batch(self.rng)
        self.windows_drawn += self.sampler.batch_size
        count = batch.target_count
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.model(torch.from_numpy(batch.tokens[self.rows]))
        losses = torch_ref.per_target_losses(logits, torch.from_numpy(batch.targets[self.rows]))
        # FSDP averages the gradients over ranks, as DDP does: weight by W/N.
        (losses.sum() * (self.world / count if count else 0.0)).backward()
        total = losses.detach().double().sum()
        dist.all_reduce(total)
        loss = np.float32(float(total) / count) if count else np.float32(0)
        lr = self.optimizer.param_groups[0]["lr"]
        norm = self._grad_norm()
        clip = self.ckpt.training.optimizer.grad_clip
        if clip > 0 and norm > clip:
            scale = float(np.float32(clip / norm))
            for p in self.model.parameters():
                if p.grad is not None:
                    p.grad.mul_(scale)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        self.tokens_seen += count
        self.loss_history.append(loss)
        return loss, norm, lr

    def save_dcp(self, directory):
        """Sharded model and optimizer state dicts and the run's state, with dcp.save (every
        rank writes its shards)."""
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_state_dict
        model_sd, optim_sd = get_state_dict(self.model, self.optimizer)
        dcp.save({"model": model_sd, "optim": optim_sd, STATE_KEY: _state_json(self.ckpt, self)},
                 checkpoint_id=directory)


def checkpoint_from_dcp(directory):
    """The ``Checkpoint`` of a DCP directory written by ``FSDPSession.save_dcp``, read in
    this process alone (no process group): tensors unsharded, moments from the optimizer
    state, the run's state from its JSON."""
    from torch.distributed.checkpoint import FileSystemReader
    from torch.distributed.checkpoint.default_planner import _EmptyStateDictLoadPlanner
    from torch.distributed.checkpoint.state_dict_loader import _load_state_dict
    sd = {}
    _load_state_dict(sd, storage_reader=FileSystemReader(directory), planner=_EmptyStateDictLoadPlanner(),
                     no_dist=True)
    s = json.loads(sd[STATE_KEY])
    config = ttf.ModelConfig(**s["config"])
    model, optim = sd["model"], sd["optim"]
    names = [n for n, _ in config.canonical_tensors()]
    steps = {int(float(optim["state"][n]["step"])) for n in names}
    if steps != {s["step"]}:
        raise ValueError(f"{directory}: optimizer steps {sorted(steps)} differ from the run's step {s['step']}")

    def arr(x):
        return x.detach().cpu().numpy().astype(np.float32).copy()
    tensors = [ttf.Tensor(n, "parameter", arr(model[n])) for n in names]
    tensors += [ttf.Tensor("adam_m." + n, "adam_m", arr(optim["state"][n]["exp_avg"])) for n in names]
    tensors += [ttf.Tensor("adam_v." + n, "adam_v", arr(optim["state"][n]["exp_avg_sq"])) for n in names]
    r = s["rng"]
    training = ttf.TrainingState(
        rng=ttf.GeneratorState(tuple(r["words"]), r["index"], r["gauss_next"]), step=s["step"],
        tokens_seen=s["tokens_seen"], seed=s["seed"], batch_size=s["batch_size"],
        optimizer=ttf.OptimizerSettings(**s["optimizer"]),
        data=None if s["data"] is None else ttf.DataIdentity(**s["data"]), windows_drawn=s["windows_drawn"],
        loss_history=np.array(s["loss_history_bits"], np.uint32).view(np.float32),
        session_starts=s["session_starts"])
    return ttf.Checkpoint(config, ttf.Vocabulary(**s["vocab"]), training, tensors, ttf.PYTHON_TOOL_VERSION)
