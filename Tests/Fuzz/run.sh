#!/bin/sh
# Builds the libFuzzer target for the .ttc reader and runs it for SECONDS (default 600).
#   Tests/Fuzz/run.sh [SECONDS] [extra libFuzzer flags...]
# The fuzzer build lives in .build-fuzz/ (separate from the normal .build/). New inputs go
# to Tests/Fuzz/work/corpus (not committed); crashers to Tests/Fuzz/work/crash-*. The committed seeds
# in Tests/Fuzz/corpus/ are read only. Replay a crasher without the fuzzer:
#   swift build --product ttc-fuzz && .build/debug/ttc-fuzz Tests/Fuzz/work/crash-...
set -eu
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-600}
[ $# -gt 0 ] && shift
swift build -c release --product ttc-fuzz --build-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DTTC_LIBFUZZER
BIN=$(swift build -c release --product ttc-fuzz --build-path .build-fuzz --show-bin-path)/ttc-fuzz
mkdir -p Tests/Fuzz/work/corpus
# -malloc_limit_mb: any single allocation above 128 MB is reported as a bug. Inputs are at
# most 64 KiB (-max_len), so the reader's own bound (1032 x file size, about 66 MB) fits
# under it with room to spare, and an allocation sized from an unchecked field does not.
# -rss_limit_mb bounds the whole process the same way. -timeout: any input taking more
# than 10 s is reported as a hang.
exec "$BIN" Tests/Fuzz/work/corpus Tests/Fuzz/corpus \
    -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -malloc_limit_mb=128 -rss_limit_mb=1024 \
    -timeout=10 -print_final_stats=1 -artifact_prefix=Tests/Fuzz/work/ "$@"
