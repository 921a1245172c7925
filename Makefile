# gradtrace: two commands on a fresh machine.
#   make demo   build (release) and run the main job on the embedded default data
#   make test   run the test suite
# Both install the Debian packages they need when missing.

APT_PACKAGES := libopenblas-dev libhdf5-dev hdf5-tools pkg-config zlib1g-dev dataset-fashion-mnist libdnnl-dev \
  openmpi-bin libopenmpi-dev
SWIFT_BUILD_FLAGS := -c release
BIN := .build/release/gradtrace
DEMO_DIR := out/demo

.PHONY: all deps build test lint format demo custom-network golden benchmarks compare-torch fma-peak onednn-conv clean reproduce-small notebook-check \
  notebook-data report-screenshot tensorboard-check tensorboard-proto

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
	@python3 -c "import h5py, numpy, tensorboard" 2>/dev/null || pip install -q h5py numpy tensorboard
	swift build $(SWIFT_BUILD_FLAGS) --build-tests
	swift test $(SWIFT_BUILD_FLAGS) --skip-build
	$(MAKE) custom-network

# examples/custom-network: a separate package that depends on gradtrace by path, defines a
# network in Swift, trains it for one epoch with a trace and exits 1 unless the trace analyses
# as healthy.
custom-network: deps
	swift build $(SWIFT_BUILD_FLAGS) --package-path examples/custom-network
	examples/custom-network/.build/release/custom-network

demo: build
	@mkdir -p $(DEMO_DIR)
	@echo "== the paper's models (3x32x32 input, 100 classes) =="
	@for m in "vgg08" "vgg38" "vgg38 --batchnorm" "vgg38 --residual" "vgg38 --batchnorm --residual"; do \
	  printf '%-30s ' "$$m"; $(BIN) describe --model $$m | grep 'total parameters'; done
	@echo
	@echo "== VGG08 at initialisation: the second-order Taylor model tracks the real loss change up to about ε* =="
	@$(BIN) init --model vgg08 --classes 10 --input 1x32x32 --seed 0 -o $(DEMO_DIR)/vgg08-init.h5 >/dev/null
	$(BIN) probe --checkpoint $(DEMO_DIR)/vgg08-init.h5 --dataset fashion-mnist --examples 100 --probes 2 | sed -n '/Taylor/,$$p'
	@echo
	@echo "== the paper's headline runs on Fashion-MNIST (smoke scale), with traces, verdicts and a report =="
	$(BIN) reproduce --scale smoke --output $(DEMO_DIR)
	@echo
	@echo "open $(DEMO_DIR)/report.html; traces in $(DEMO_DIR)/traces/ (gradtrace analyze|plot|export|compare them)"

# The full small-scale reproduction (about an hour on 2 cores); its table is committed as
# benchmarks/reproduce-small.md.
reproduce-small: build
	$(BIN) reproduce --scale small --output out/reproduce-small
	cp out/reproduce-small/table.md benchmarks/reproduce-small.md

# Python packages of the notebook, installed with pip when missing.
NOTEBOOK_PACKAGES := h5py numpy pandas matplotlib nbconvert nbclient ipykernel

# Runs notebooks-data/gradtrace-traces.ipynb headlessly on the example traces beside it.
notebook-check:
	@python3 -c "import h5py, numpy, pandas, matplotlib, nbconvert, nbclient, ipykernel" 2>/dev/null \
	  || pip install -q $(NOTEBOOK_PACKAGES)
	cd notebooks-data && python3 -m jupyter nbconvert --to notebook --execute gradtrace-traces.ipynb \
	  --output-dir /tmp --output gradtrace-traces.executed.ipynb --ExecutePreprocessor.timeout=300
	@echo "notebook ran end to end (executed copy: /tmp/gradtrace-traces.executed.ipynb)"

# Rebuilds the notebook's example traces from a smoke reproduction.
notebook-data: build
	$(BIN) reproduce --scale smoke --output out/notebook-smoke
	rm -rf notebooks-data/traces && mkdir -p notebooks-data/traces
	cp out/notebook-smoke/traces/*.h5 notebooks-data/traces/

# Screenshot of a report in headless Chromium (installs chromium when missing):
#   make report-screenshot REPORT=out/demo/report.html
REPORT ?= $(DEMO_DIR)/report.html
report-screenshot:
	@command -v chromium >/dev/null || (SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get install -y -q chromium)
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,4200 \
	  --screenshot=$(REPORT:.html=.png) file://$(abspath $(REPORT)) 2>/dev/null
	@echo "screenshot: $(REPORT:.html=.png)"

# TensorBoard reads gradtrace's event files back (its own EventAccumulator) and every scalar
# equals the trace's, for an exported finished run, a version 1 trace and a live run read while
# it writes. Installs tensorboard and h5py with pip when missing.
tensorboard-check: build
	@python3 -c "import tensorboard, h5py, numpy" 2>/dev/null || pip install -q tensorboard h5py numpy
	python3 scripts/check_tensorboard.py --gradtrace $(BIN)

# Regenerate Sources/TensorBoard/Generated from proto/tensorboard_events.proto: protoc from
# pip's grpcio-tools, protoc-gen-swift built from the swift-protobuf version Package.swift pins.
PROTOBUF_VERSION := 1.39.0
tensorboard-proto:
	@python3 -c "import grpc_tools" 2>/dev/null || pip install -q grpcio-tools
	rm -rf .build-protobuf && git clone -q --branch $(PROTOBUF_VERSION) https://github.com/apple/swift-protobuf .build-protobuf
	swift build -c release --package-path .build-protobuf --product protoc-gen-swift
	python3 -m grpc_tools.protoc --plugin=protoc-gen-swift=.build-protobuf/.build/release/protoc-gen-swift \
	  --swift_out=Sources/TensorBoard/Generated --swift_opt=Visibility=Internal -Iproto proto/tensorboard_events.proto

# Regenerate the PyTorch golden values (needs: pip install torch==2.13.0 h5py numpy).
golden: build
	python3 scripts/torch_reference.py --gradtrace $(BIN) --output Tests/NetworksTests/Golden

# Engine timings for BENCHMARKS.md (release build; run on an otherwise idle machine).
benchmarks: deps
	swift build $(SWIFT_BUILD_FLAGS) --product gradtrace-benchmarks
	.build/release/gradtrace-benchmarks --repeats 7
	.build/release/gradtrace-benchmarks --hvp --repeats 7 --models vgg08,vgg38,vgg38-bn-res

# The machine's float32 FMA peak on 1 and 2 threads (the yardstick for the convolutions' GFLOP/s
# that `gradtrace bench --profile` prints).
fma-peak:
	mkdir -p .build && cc -O2 -mavx512f -mfma -pthread benchmarks/fma_peak.c -o .build/fma_peak
	.build/fma_peak 1 2

# oneDNN alone on the 3×3 geometries of the VGG and ResNet families (2 threads, warm buffers).
onednn-conv: deps
	mkdir -p .build && cc -O2 benchmarks/onednn_convolution.c -ldnnl -o .build/onednn_convolution
	for shape in "16 16 32" "32 32 32" "32 32 16" "64 64 8"; do OMP_NUM_THREADS=2 .build/onednn_convolution $$shape 15; done

# Issue 4's training comparison against PyTorch (needs: pip install torch==2.13.0 numpy);
# about half an hour on 2 cores. Writes benchmarks/fashion-mnist-2-epochs.md.
compare-torch: build
	python3 scripts/compare_training.py --gradtrace $(BIN) --output benchmarks/fashion-mnist-2-epochs.md

clean:
	rm -rf .build out
