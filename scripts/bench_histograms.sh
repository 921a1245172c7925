#!/usr/bin/env bash
# The cost of log-magnitude histograms during training (BENCHMARKS.md, "Histograms"): the same
# short run with a trace, without and with `--histogram-every`, alternated, release build.
# Usage: scripts/bench_histograms.sh [model flags...]   (default: vgg38 BN+residual)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product gradtrace >/dev/null
gradtrace=.build/release/gradtrace
model=("$@")
[ ${#model[@]} -eq 0 ] && model=(--model vgg38 --batchnorm --residual)
rounds=${ROUNDS:-3}
every=${EVERY:-10}
out=$(mktemp -d)
for round in $(seq "$rounds"); do
  for histograms in 0 "$every"; do
    run="$out/r$round-h$histograms"
    extra=()
    [ "$histograms" -gt 0 ] && extra=(--histogram-every "$histograms")
    "$gradtrace" train "${model[@]}" --dataset fashion-mnist --subset 3000 --validation 100 --test-examples 100 \
      --epochs 1 --batch-size 100 --threads 2 --output "$run" --trace "$run/trace.h5" "${extra[@]}" --quiet >/dev/null
    python3 - "$run/trace.h5" "$histograms" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
rows = len(f["histograms/step"]) if "histograms/step" in f else 0
counting = float(f["histograms/seconds"][:].sum()) if rows else 0.0
epoch = float(f["epochs/seconds"][0])
print(f"histogram-every {sys.argv[2]:>3}: epoch {epoch:.2f} s, {len(f['steps/step'])} steps, {rows} histogram rows "
      f"taking {counting:.3f} s ({counting / max(rows, 1) * 1000:.1f} ms each; {counting / epoch * 100:.2f}% of the epoch)")
PY
  done
done
rm -rf "$out"
