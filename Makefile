# gradtrace: two commands on a fresh machine.
#   make demo   build (release) and run the main job on the embedded default data
#   make test   run the test suite
# Both install the Debian packages they need when missing.

APT_PACKAGES := libopenblas-dev libhdf5-dev hdf5-tools pkg-config zlib1g-dev dataset-fashion-mnist
SWIFT_BUILD_FLAGS := -c release
BIN := .build/release/gradtrace
DEMO_DIR := out/demo

.PHONY: all deps build test demo golden clean

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

# Tests run in release: the numeric kernels are generic and ~100x slower unoptimised.
test: deps
	swift build $(SWIFT_BUILD_FLAGS) --build-tests
	swift test $(SWIFT_BUILD_FLAGS) --skip-build

demo: build
	@mkdir -p $(DEMO_DIR)
	@echo "== the paper's models =="
	@for m in "vgg08" "vgg38" "vgg38 --batchnorm" "vgg38 --residual" "vgg38 --batchnorm --residual"; do \
	  printf '%-32s ' "$$m"; $(BIN) describe --model $$m | tail -2 | tr '\n' ' '; echo; done
	@echo
	$(BIN) describe --model vgg38 --batchnorm --residual --classes 10 --input 1x32x32
	@echo
	$(BIN) init --model vgg38 --batchnorm --residual --classes 10 --input 1x32x32 --seed 0 -o $(DEMO_DIR)/vgg38-bn-res-init.h5
	h5ls -r $(DEMO_DIR)/vgg38-bn-res-init.h5 | head -12
	@echo
	@echo "== gradient flow at initialisation, one Fashion-MNIST batch =="
	$(BIN) gradients --model vgg38 --classes 10 --input 1x32x32 --fashion-mnist 100
	$(BIN) gradients --model vgg38 --batchnorm --residual --classes 10 --input 1x32x32 --fashion-mnist 100

# Regenerate the PyTorch golden values (needs: pip install torch==2.13.0 h5py numpy).
golden: build
	python3 scripts/torch_reference.py --gradtrace $(BIN) --output Tests/NetworksTests/Golden

clean:
	rm -rf .build out
