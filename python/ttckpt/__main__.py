"""``python3 -m ttckpt FILE.ttc``: verify every CRC and rule of the spec, print a summary.
Exit 0 when the file is valid, 2 (one line on stderr naming the file and field) when not."""
import sys

from .format import FormatError, TTCFile


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print("usage: python3 -m ttckpt FILE.ttc", file=sys.stderr)
        return 2
    path = argv[0]
    try:
        with TTCFile(path) as f:
            tensors = f.load_all()
            f.verify()
            t = f.training
            check = "all CRCs ok, all SHA-256s ok" if f.digests is not None else "all CRCs ok"
            print(f"{path}: format {f.version[0]}.{f.version[1]}, {f.config.arch}, {len(tensors)} tensors, "
                  f"step {t.step}, {check}")
            print(f"  model digest {f.model_digest()}")
            print(f"  written by {f.tool_version}; vocab {f.vocab.kind} ({len(f.vocab.tokens)} tokens); "
                  f"batch {t.batch_size}; windows drawn {t.windows_drawn}; rng index {t.rng.index}; "
                  f"sessions {t.session_starts}")
            for e in f.entries:
                print(f"  {e.name:<28} {e.role:<9} {str(list(e.shape)):<14} {e.filter:<7} "
                      f"{e.stored_length:>10} / {e.raw_length}")
    except FormatError as e:
        print(f"ttckpt: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
