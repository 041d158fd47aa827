# Thin wrapper over CMake for the README commands.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)

.PHONY: all deps model build test asan-build test-asan test-cores fuzz demo clean install

all: build

deps:
	scripts/deps.sh

model:
	scripts/fetch-model.sh >/dev/null

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# Release tests (incl. the real model), the same tests under AddressSanitizer
# + UBSan (on this machine's cores, then as if it had 16 and 7), then the
# file-format fuzzers for a bounded time.
test: build model
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) test-asan
	$(MAKE) test-cores
	$(MAKE) fuzz

fuzz:
	@if [ -x scripts/fuzz.sh ]; then scripts/fuzz.sh $${ZF_FUZZ_SECONDS:-60}; fi

asan-build:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZF_SANITIZE=ON -DZF_CUDA=OFF >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test-asan: asan-build
	cd $(ASAN_BUILD) && ZF_TEST_QUICK=1 ctest --output-on-failure -j $(JOBS)

# The sanitizer build's tests with the thread pool's default at 16 and 7
# threads: sysconf's core count faked by tests/tools/fake_cores.c (the
# sanitizer runtime then need not be loaded first).
test-cores: asan-build
	cc -shared -fPIC -O2 -o $(ASAN_BUILD)/fake_cores.so tests/tools/fake_cores.c -ldl
	for n in 16 7; do \
	  (cd $(ASAN_BUILD) && ZF_FAKE_CORES=$$n LD_PRELOAD=$$PWD/fake_cores.so \
	   ASAN_OPTIONS=verify_asan_link_order=0 ZF_TEST_QUICK=1 ctest --output-on-failure -j $(JOBS)) || exit 1; \
	done

demo: build model
	scripts/demo.sh $(BUILD)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
