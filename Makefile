# gradtrace: two commands on a fresh machine.
#   make demo   build (release) and run the main job on the embedded default data
#   make test   run the test suite
# Both install the Debian packages they need when missing.

APT_PACKAGES := libopenblas-dev libhdf5-dev hdf5-tools pkg-config zlib1g-dev dataset-fashion-mnist
SWIFT_BUILD_FLAGS := -c release
BIN := .build/release/gradtrace
DEMO_DIR := out/demo

.PHONY: all deps build test lint format demo golden benchmarks compare-torch clean

all: build

# Install whatever of APT_PACKAGES is missing (apt-get update once, only if needed).
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

build: deps
	swift build $(SWIFT_BUILD_FLAGS) --product gradtrace

# Formatting is checked with the toolchain's swift-format (config: .swift-format).
lint:
	swift format lint --strict -r Sources Tests Package.swift

format:
	swift format -i -r Sources Tests Package.swift

# Tests run in release: the numeric kernels are generic and ~100x slower unoptimised.
test: deps lint
	@python3 -c "import h5py, numpy" 2>/dev/null || pip install -q h5py numpy
	swift build $(SWIFT_BUILD_FLAGS) --build-tests
	swift test $(SWIFT_BUILD_FLAGS) --skip-build

demo: build
	@mkdir -p $(DEMO_DIR)
	@echo "== the paper's models (3x32x32 input, 100 classes) =="
	@for m in "vgg08" "vgg38" "vgg38 --batchnorm" "vgg38 --residual" "vgg38 --batchnorm --residual"; do \
	  printf '%-30s ' "$$m"; $(BIN) describe --model $$m | grep 'total parameters'; done
	@echo
	@echo "== initial weights for padded Fashion-MNIST (1x32x32, 10 classes) =="
	$(BIN) init --model vgg38 --classes 10 --input 1x32x32 --seed 0 -o $(DEMO_DIR)/vgg38-init.h5
	$(BIN) init --model vgg38 --batchnorm --residual --classes 10 --input 1x32x32 --seed 0 -o $(DEMO_DIR)/vgg38-bn-res-init.h5
	$(BIN) init --model vgg08 --classes 10 --input 1x32x32 --seed 0 -o $(DEMO_DIR)/vgg08-init.h5
	@echo
	@echo "== exact curvature and gradient flow at initialisation, 32 Fashion-MNIST images =="
	@echo "-- plain VGG38: the gradient vanishes towards the input (mean |g| column) --"
	$(BIN) probe --checkpoint $(DEMO_DIR)/vgg38-init.h5 --dataset fashion-mnist --examples 32 --probes 2 --max-eigen-products 10
	@echo
	@echo "-- VGG38 with BatchNorm and residual connections: it does not --"
	$(BIN) probe --checkpoint $(DEMO_DIR)/vgg38-bn-res-init.h5 --dataset fashion-mnist --examples 32 --probes 2 --max-eigen-products 10
	@echo
	@echo "-- VGG08: the second-order Taylor model tracks the real loss change up to about ε* --"
	$(BIN) probe --checkpoint $(DEMO_DIR)/vgg08-init.h5 --dataset fashion-mnist --examples 100
	@echo
	@echo "== a short traced run of each VGG38 (1,000 Fashion-MNIST images, one epoch) and the verdicts =="
	$(BIN) train --model vgg38 --classes 10 --input 1x32x32 --epochs 1 --subset 1000 --validation 500 \
	  --output $(DEMO_DIR)/vgg38 --trace $(DEMO_DIR)/vgg38.h5 --quiet
	$(BIN) train --model vgg38 --batchnorm --residual --classes 10 --input 1x32x32 --epochs 1 --subset 1000 --validation 500 \
	  --output $(DEMO_DIR)/vgg38-bn-res --trace $(DEMO_DIR)/vgg38-bn-res.h5 --quiet
	@$(BIN) analyze $(DEMO_DIR)/vgg38.h5 | sed -n '1,8p'
	@echo
	@$(BIN) analyze $(DEMO_DIR)/vgg38-bn-res.h5 | sed -n '1,8p'
	@echo
	@echo "traces and checkpoints are in $(DEMO_DIR)/ (gradtrace inspect $(DEMO_DIR)/vgg38.h5)"

# Regenerate the PyTorch golden values (needs: pip install torch==2.13.0 h5py numpy).
golden: build
	python3 scripts/torch_reference.py --gradtrace $(BIN) --output Tests/NetworksTests/Golden

# Engine timings for BENCHMARKS.md (release build; run on an otherwise idle machine).
benchmarks: deps
	swift build $(SWIFT_BUILD_FLAGS) --product gradtrace-benchmarks
	.build/release/gradtrace-benchmarks --repeats 7
	.build/release/gradtrace-benchmarks --hvp --repeats 7 --models vgg08,vgg38,vgg38-bn-res

# Issue 4's training comparison against PyTorch (needs: pip install torch==2.13.0 numpy);
# about half an hour on 2 cores. Writes benchmarks/fashion-mnist-2-epochs.md.
compare-torch: build
	python3 scripts/compare_training.py --gradtrace $(BIN) --output benchmarks/fashion-mnist-2-epochs.md

clean:
	rm -rf .build out
