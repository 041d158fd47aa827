# Thin wrapper over CMake for the README commands.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)

.PHONY: all deps model build test test-asan fuzz demo clean install

all: build

deps:
	scripts/deps.sh

model:
	scripts/fetch-model.sh >/dev/null

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# Release tests (incl. the real model), the same tests under AddressSanitizer
# + UBSan, then the file-format fuzzers for a bounded time.
test: build model
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) test-asan
	$(MAKE) fuzz

fuzz:
	@if [ -x scripts/fuzz.sh ]; then scripts/fuzz.sh $${ZF_FUZZ_SECONDS:-60}; fi

test-asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZF_SANITIZE=ON -DZF_CUDA=OFF >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ZF_TEST_QUICK=1 ctest --output-on-failure -j $(JOBS)

demo: build model
	scripts/demo.sh $(BUILD)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
