"""Checkpoint I/O peer for tt-bench: torch.save / torch.load and safetensors on the same tensors.

tt-bench writes the tensors of its benchmark checkpoint as DIR/tensors.bin (float32,
little-endian, back to back) and DIR/index.json ([{"name", "shape"}] in file order). This
script loads them into torch tensors and times, best of --trials each:

  torch_save      torch.save(dict) to a file, then fsync (what a training loop pays)
  torch_load      torch.load(file) of that file
  safetensors_save / safetensors_load   safetensors.torch.save_file (+ fsync) / load_file
  torch_cycle     torch.load + torch.save + fsync of the same tensors (the part of a
                  one-step "load, train, save" command that is not training)

Prints one JSON line with MB/s figures (MB = 10^6 bytes of raw tensor data) and the file
sizes. Usage: python3 Benchmarks/peers/io_peer.py DIR [--trials 5]
"""
import argparse
import json
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser(description="torch.save/torch.load and safetensors peer of tt-bench")
    ap.add_argument("dir")
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()

    import numpy as np
    import torch

    with open(os.path.join(args.dir, "index.json")) as f:
        index = json.load(f)
    raw = np.fromfile(os.path.join(args.dir, "tensors.bin"), dtype="<f4")
    tensors = {}
    offset = 0
    for item in index:
        n = 1
        for d in item["shape"]:
            n *= d
        tensors[item["name"]] = torch.from_numpy(raw[offset:offset + n].reshape(item["shape"]).copy())
        offset += n
    if offset != raw.size:
        print("io_peer: index.json does not cover tensors.bin", file=sys.stderr)
        sys.exit(2)
    raw_bytes = raw.size * 4
    pt = os.path.join(args.dir, "peer.pt")
    st = os.path.join(args.dir, "peer.safetensors")

    def fsync_path(path):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def best(fn):
        times = []
        for _ in range(args.trials):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    def torch_save():
        with open(pt, "wb") as f:
            torch.save(tensors, f)
            f.flush()
            os.fsync(f.fileno())

    def torch_load():
        torch.load(pt, weights_only=True)

    def torch_cycle():
        loaded = torch.load(pt, weights_only=True)
        with open(pt + ".out", "wb") as f:
            torch.save(loaded, f)
            f.flush()
            os.fsync(f.fileno())

    record = {"peer": "io", "torch": torch.__version__, "raw_bytes": raw_bytes, "tensors": len(tensors),
              "trials": args.trials}
    ts = best(torch_save)
    tl = best(torch_load)
    tc = best(torch_cycle)
    record.update({"torch_save_MBps": raw_bytes / ts / 1e6, "torch_load_MBps": raw_bytes / tl / 1e6,
                   "torch_cycle_s": tc, "torch_file_bytes": os.path.getsize(pt)})
    try:
        from safetensors.torch import save_file, load_file

        def st_save():
            save_file(tensors, st)
            fsync_path(st)

        ss = best(st_save)
        sl = best(lambda: load_file(st))
        record.update({"safetensors_save_MBps": raw_bytes / ss / 1e6, "safetensors_load_MBps": raw_bytes / sl / 1e6,
                       "safetensors_file_bytes": os.path.getsize(st)})
    except ImportError:
        record["safetensors"] = "not installed"
    for path in (pt, pt + ".out", st):
        if os.path.exists(path):
            os.unlink(path)
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
