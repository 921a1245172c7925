#!/bin/bash
# Prices reproduce's default spectrum schedule: one spectrum (150 H·v) against a training step,
# each headline model at its Table 1 batch size, steps timed before and after the spectrum.
B=${GRADTRACE:-.build/release/gradtrace}
run() { # label batch model-options...
  label=$1; batch=$2; shift 2
  for pass in step spectrum step; do
    r=$([ $pass = spectrum ] && echo 1 || echo 3)
    $B bench "$@" --classes 10 --input 1x32x32 --batch-size $batch --pass $pass --repeats $r --threads 2 --json \
      | python3 -c "import json,sys; d=json.load(sys.stdin); print('$label', '$pass', $batch, d['median_ms'])"
  done
}
run vgg08 100 --model vgg08
run vgg38 100 --model vgg38
run vgg38-bn 100 --model vgg38 --batchnorm
run vgg38-bn-res 256 --model vgg38 --batchnorm --residual
