#!/bin/sh
# Builds a libFuzzer target and runs it for SECONDS (default 600).
#   Tests/Fuzz/run.sh [ttc|safetensors] [SECONDS] [extra libFuzzer flags...]
# ttc (the default): the .ttc reader, product ttc-fuzz, seeds Tests/Fuzz/corpus/.
# safetensors: the safetensors reader and importer, product safetensors-fuzz, seeds
# Tests/Fuzz/safetensors-corpus/.
# The fuzzer build lives in .build-fuzz/ (separate from the normal .build/). New inputs go
# to Tests/Fuzz/work/<target>/corpus (not committed); crashers to Tests/Fuzz/work/<target>/crash-*.
# The committed seeds are read only. Replay a crasher without the fuzzer:
#   swift build --product ttc-fuzz && .build/debug/ttc-fuzz Tests/Fuzz/work/ttc/crash-...
set -eu
cd "$(dirname "$0")/../.."
TARGET=ttc
case "${1:-}" in
    ttc|safetensors) TARGET=$1; shift ;;
esac
SECONDS_TO_RUN=${1:-600}
[ $# -gt 0 ] && shift
if [ "$TARGET" = ttc ]; then
    PRODUCT=ttc-fuzz; SEEDS=Tests/Fuzz/corpus
else
    PRODUCT=safetensors-fuzz; SEEDS=Tests/Fuzz/safetensors-corpus
fi
swift build -c release --product "$PRODUCT" --build-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DTTC_LIBFUZZER
BIN=$(swift build -c release --product "$PRODUCT" --build-path .build-fuzz --show-bin-path)/$PRODUCT
WORK=Tests/Fuzz/work/$TARGET
mkdir -p "$WORK/corpus"
# -malloc_limit_mb: any single allocation above 128 MB is reported as a bug. Inputs are at
# most 64 KiB (-max_len), so the readers' own bounds (1032 x file size for a .ttc, the file
# size for safetensors) fit under it with room to spare, and an allocation sized from an
# unchecked field does not. -rss_limit_mb bounds the whole process the same way.
# -timeout: any input taking more than 10 s is reported as a hang.
exec "$BIN" "$WORK/corpus" "$SEEDS" \
    -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -malloc_limit_mb=128 -rss_limit_mb=1024 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$WORK/" "$@"
