#!/bin/sh
# Builds the libFuzzer target for the GGUF and safetensors readers (TTInterop) and runs it on
# one format for SECONDS (default 600).
#   Tests/Fuzz/run-interop.sh gguf|safetensors [SECONDS] [extra libFuzzer flags...]
# The fuzzer build lives in .build-fuzz/ (separate from the normal .build/). Seeds: the
# committed Tests/Fuzz/corpus-FORMAT (read only). New inputs go to Tests/Fuzz/work/FORMAT (not
# committed); crashers to Tests/Fuzz/work/crash-*. Replay without the fuzzer:
#   swift build --product interop-fuzz && .build/debug/interop-fuzz gguf Tests/Fuzz/work/crash-...
# Minimize a grown corpus into the committed one (what was done after the recorded runs):
#   Tests/Fuzz/run-interop.sh gguf 0 -merge=1   # merges work/gguf into corpus-gguf
set -eu
cd "$(dirname "$0")/../.."
FORMAT=${1:?gguf or safetensors}
SECONDS_TO_RUN=${2:-600}
shift; [ $# -gt 0 ] && shift
case "$FORMAT" in gguf|safetensors) ;; *) echo "format must be gguf or safetensors" >&2; exit 2 ;; esac
swift build -c release --product interop-fuzz --build-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DINTEROP_LIBFUZZER
BIN=$(swift build -c release --product interop-fuzz --build-path .build-fuzz --show-bin-path)/interop-fuzz
mkdir -p "Tests/Fuzz/work/$FORMAT"
case " $* " in
*" -merge=1 "*)
    # Minimize: the committed corpus first, then what the runs found.
    exec env INTEROP_FUZZ="$FORMAT" "$BIN" "Tests/Fuzz/corpus-$FORMAT" "Tests/Fuzz/work/$FORMAT" "$@" ;;
esac
# -malloc_limit_mb: any single allocation above 64 MB is a finding. Inputs are at most
# 64 KiB, and everything the readers allocate is bounded by the input (a string, an array
# or a tensor's values must fit in the file; Q4_0, the densest decodable type, gives 32
# Floats per 18 bytes: at most ~470 KB of values), so only an allocation sized from an
# unchecked field can get there. -rss_limit_mb bounds the whole process; -timeout: any
# input taking more than 10 s is a hang.
exec env INTEROP_FUZZ="$FORMAT" "$BIN" "Tests/Fuzz/work/$FORMAT" "Tests/Fuzz/corpus-$FORMAT" \
    -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -malloc_limit_mb=64 -rss_limit_mb=1024 \
    -timeout=10 -print_final_stats=1 -artifact_prefix=Tests/Fuzz/work/ "$@"
