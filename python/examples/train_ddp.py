"""Continue a tt-ckpt run under PyTorch's DistributedDataParallel (gloo, CPU) and write a
.ttc that `tt-ckpt inspect`, `diff`, `sample` and `resume` accept.

    torchrun --nproc_per_node 2 python/examples/train_ddp.py run.ttc --steps N \\
        --data corpus.txt -o out.ttc

Like `tt-ckpt resume`: the hyperparameters, schedule, batch size, generator and data cursor
are the checkpoint's; `--data` must be the recorded corpus (byte count, token count and
SHA-256; built-in data needs none); a checkpoint that was never trained is refused; the
session starts are left as they are. Each of the W ranks draws the same global batch of B
windows from the restored generator and trains on its share of the rows (B/W, sizes differing
by at most one); rank r's loss is W·Σ_{its rows} CE / N, N the non-PAD targets of the whole
batch, so DDP's average of the W gradients is the gradient of the global mean loss that
tt-ckpt computes. Clipping, AdamW and the schedule are tt-ckpt's (ttckpt.torch_ref). Rank 0
writes the output atomically.

`--fsdp` shards parameters, gradients and AdamW moments with FSDP2 (`fully_shard`) instead,
saves a torch.distributed.checkpoint (DCP) directory at the end (`--dcp DIR`, default
OUT.dcp) and converts it to OUT: `python3 python/examples/train_ddp.py --from-dcp DIR -o OUT`
does that conversion alone, in one process.

Errors are one line on stderr (`train_ddp.py: FILE: problem`), exit status 2, nothing written.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))


import ttckpt  # noqa: E402
from ttckpt import data as ttdata  # noqa: E402

PROG = "train_ddp.py"


class Trouble(Exception):
    pass


def parse(argv):
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", nargs="?", help="the .ttc to continue")
    p.add_argument("--steps", type=int, help="optimizer steps to take (all ranks together)")
    p.add_argument("--data", help="the corpus the checkpoint was trained on (not needed for built-in data)")
    p.add_argument("-o", "--output", required=True, help="the .ttc to write (may be the input)")
    p.add_argument("--log-every", type=int, default=0, help="print a line every N steps (default: steps/10)")
    p.add_argument("--json", action="store_true", help="one JSON object per step on stdout (rank 0)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--threads", type=int, default=1, help="torch threads per rank (default 1)")
    p.add_argument("--fsdp", action="store_true", help="FSDP2 (fully_shard) instead of DDP; saves a DCP checkpoint")
    p.add_argument("--dcp", help="with --fsdp: the DCP directory to save (default OUT.dcp)")
    p.add_argument("--from-dcp", help="convert a DCP directory saved by --fsdp to -o OUT and exit")
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        sys.exit(2 if e.code else 0)
    if args.from_dcp is None:
        if args.checkpoint is None:
            raise Trouble("checkpoint: required")
        if args.steps is None or args.steps < 1:
            raise Trouble(f"--steps: must be at least 1, got {args.steps}")
    if os.path.isdir(args.output):
        raise Trouble(f"{args.output}: is a directory, not a file")
    return args


def prepare(args):
    """Everything checked before any process group exists, so every rank fails the same way."""
    ckpt = ttckpt.read(args.checkpoint)
    if not ckpt.training.session_starts:
        raise Trouble(f"{args.checkpoint}: has never been trained, so there is nothing to resume; use tt-ckpt train")
    data = ttdata.resolve_data(ckpt, args.data, args.checkpoint)
    return ckpt, data


def log_line(args, world, step, last, loss, lr, norm, elapsed, tokens):
    if args.json:
        print(json.dumps({"step": step, "last_step": last, "loss": float(loss), "lr": lr, "grad_norm": norm,
                          "tokens_seen": tokens, "elapsed_sec": round(elapsed, 3), "world_size": world}), flush=True)
    elif not args.quiet:
        print(f"step {step}/{last}  loss {float(loss):.6f}  lr {lr:.3e}  ranks {world}", flush=True)


def run_ddp(args, ckpt, data, dist, torch):
    from torch.nn.parallel import DistributedDataParallel as DDP
    from ttckpt import torch_ref
    rank, world = dist.get_rank(), dist.get_world_size()
    session = torch_ref.Session(ckpt, data, rank=rank, world=world)
    ddp = DDP(session.model)
    last = session.step + args.steps
    every = args.log_every or max(1, args.steps // 10)
    start = time.perf_counter()
    for i in range(args.steps):
        loss, norm, lr = session.train_step(module=ddp, all_reduce=lambda t: dist.all_reduce(t))
        if rank == 0 and (args.json or (i + 1) % every == 0 or i + 1 == args.steps):
            log_line(args, world, session.step, last, loss, lr, norm, time.perf_counter() - start, session.tokens_seen)
    check_replicas(session, dist, torch)
    return session.to_checkpoint() if rank == 0 else None


def check_replicas(session, dist, torch):
    """DDP keeps the replicas identical; the generator and cursor are identical by
    construction. Checked: a float64 checksum of every parameter and moment, max over ranks
    equals min over ranks."""
    total = torch.zeros(1, dtype=torch.float64)
    for _, p in session.model.canonical_parameters():
        s = session.optimizer.state[p]
        total += p.detach().double().sum() * 1.0 + s["exp_avg"].double().sum() * 3.0 + s["exp_avg_sq"].double().sum() * 7.0
    hi, lo = total.clone(), total.clone()
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    if hi.item() != lo.item():
        raise RuntimeError(f"replicas differ after training (checksums {lo.item()!r} ... {hi.item()!r})")


def run_fsdp(args, ckpt, data, dist, torch):
    from ttckpt import fsdp
    rank, world = dist.get_rank(), dist.get_world_size()
    session = fsdp.FSDPSession(ckpt, data, rank=rank, world=world)
    last = session.step + args.steps
    every = args.log_every or max(1, args.steps // 10)
    start = time.perf_counter()
    for i in range(args.steps):
        loss, norm, lr = session.train_step()
        if rank == 0 and (args.json or (i + 1) % every == 0 or i + 1 == args.steps):
            log_line(args, world, session.step, last, loss, lr, norm, time.perf_counter() - start, session.tokens_seen)
    directory = args.dcp or args.output + ".dcp"
    session.save_dcp(directory)
    dist.barrier()
    return directory


def main(argv=None):
    try:
        args = parse(sys.argv[1:] if argv is None else argv)
        if args.from_dcp is not None:
            from ttckpt import fsdp
            ttckpt.write(fsdp.checkpoint_from_dcp(args.from_dcp), args.output)
            return 0
        ckpt, data = prepare(args)
        if ckpt.training.batch_size < int(os.environ.get("WORLD_SIZE", "1")):
            raise Trouble(f"{args.checkpoint}: batch size {ckpt.training.batch_size} is smaller than the "
                          f"{os.environ['WORLD_SIZE']} ranks; each rank needs at least one sequence")
    except (Trouble, ttckpt.FormatError, ttckpt.DataError) as e:
        if int(os.environ.get("RANK", "0")) == 0:
            print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    import torch
    import torch.distributed as dist
    torch.set_num_threads(max(1, args.threads))
    dist.init_process_group("gloo")
    try:
        if args.fsdp:
            directory = run_fsdp(args, ckpt, data, dist, torch)
            result = None
            if dist.get_rank() == 0:
                from ttckpt import fsdp
                result = fsdp.checkpoint_from_dcp(directory)
        else:
            result = run_ddp(args, ckpt, data, dist, torch)
        status = torch.zeros(1, dtype=torch.int64)
        if dist.get_rank() == 0:
            try:
                ttckpt.write(result, args.output)
                if not args.quiet and not args.json:
                    t = result.training
                    print(f"saved {args.output}: step {t.step}, loss {float(t.loss_history[-1]):.6f}", flush=True)
            except ttckpt.FormatError as e:
                print(f"{PROG}: {e}", file=sys.stderr)
                status += 2
        dist.broadcast(status, 0)  # every rank exits with rank 0's status
        return int(status.item())
    finally:
        # DDP's reducer and gloo's pending work hold tensors; freed by the garbage collector
        # at interpreter exit (reference cycles), after the group is gone, they made a rank
        # abort now and then ("terminate called without an active exception"). Free them
        # while the group is alive. No barrier here: after an error on one rank it would hang.
        result = None
        import gc
        gc.collect()
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
