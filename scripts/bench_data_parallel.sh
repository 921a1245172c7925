#!/usr/bin/env bash
# One machine, two cores: vgg38 BN+residual trained by 1 process on 2 threads against 2 ranks
# (mpirun) on 1 thread each, alternated ROUNDS times; prints each run's images/s over its second
# epoch (the first creates the convolution primitives) and the exchange line of the 2-rank runs.
#   scripts/bench_data_parallel.sh [ROUNDS]        (release build: make build)
set -euo pipefail
rounds=${1:-3}
bin=.build/release/gradtrace
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(train --model vgg38 --batchnorm --residual --dataset synthetic --input 3x32x32 --classes 100
  --batch-size 100 --subset 1000 --validation 100 --test-examples 100 --epochs 2 --quiet)
root=$([ "$(id -u)" = 0 ] && echo --allow-run-as-root || true)
rate() { awk -F, 'NR == 3 { printf "%.1f", 1000 / $7 }' "$1/epochs.csv"; }
echo "round,one_process_2_threads_images_per_second,two_ranks_1_thread_images_per_second"
for round in $(seq 1 "$rounds"); do
  "$bin" "${args[@]}" --threads 2 --output "$work/one-$round" >/dev/null
  line=$(mpirun $root --oversubscribe -np 2 "$bin" "${args[@]}" --threads 1 --output "$work/two-$round" | grep '^exchange')
  echo "$round,$(rate "$work/one-$round"),$(rate "$work/two-$round")"
  echo "  2 ranks: $line" >&2
done
