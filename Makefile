# Thin wrapper: every target installs what it needs first, so `make demo` and `make test`
# work on a fresh Debian machine as root.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: deps build test unit demo bench fuzz format clean

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# All tests, privileged ones included (they need root: BPF, network namespaces).
test: build
	scripts/run-tests.sh $(BUILD)

# Unprivileged unit tests only.
unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

demo: build
	scripts/demo.sh $(BUILD)

bench: build
	scripts/bench.sh $(BUILD)

fuzz: deps
	scripts/fuzz.sh

format:
	git ls-files '*.cpp' '*.h' '*.c' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
