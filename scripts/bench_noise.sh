#!/usr/bin/env bash
# The cost of gradient-noise measurements during training (BENCHMARKS.md, "Gradient noise"): the
# same short run with a trace, without noise, with `--record noise` on its default schedule and
# at every step, alternated, release build. Each noise row times its own measurement in
# /noise/seconds (the m − 1 group backward passes and the estimators).
# Usage: scripts/bench_noise.sh [model flags...]   (default: vgg38 BN+residual)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product gradtrace >/dev/null
gradtrace=.build/release/gradtrace
model=("$@")
[ ${#model[@]} -eq 0 ] && model=(--model vgg38 --batchnorm --residual)
rounds=${ROUNDS:-3}
out=$(mktemp -d)
for round in $(seq "$rounds"); do
  for schedule in none default every-step; do
    run="$out/r$round-$schedule"
    extra=()
    case $schedule in
      default) extra=(--record gradients,activations,noise) ;;
      every-step) extra=(--record gradients,activations,noise --noise-every 1) ;;
    esac
    "$gradtrace" train "${model[@]}" --dataset fashion-mnist --subset 4000 --validation 100 --test-examples 100 \
      --epochs 1 --batch-size 100 --threads 2 --output "$run" --trace "$run/trace.h5" "${extra[@]}" --quiet >/dev/null
    python3 - "$run/trace.h5" "$schedule" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
rows = len(f["noise/step"]) if "noise/step" in f else 0
spent = float(f["noise/seconds"][:].sum()) if rows else 0.0
epoch = float(f["epochs/seconds"][0])
steps = len(f["steps/step"])
print(f"{sys.argv[2]:>10}: epoch {epoch:.2f} s, {steps} steps ({epoch / steps * 1000:.0f} ms each), {rows} noise rows "
      f"taking {spent:.2f} s ({spent / max(rows, 1) * 1000:.0f} ms each; {spent / epoch * 100:.1f}% of the epoch)")
PY
  done
done
rm -rf "$out"
