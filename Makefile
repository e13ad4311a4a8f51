# The front door. Each target first installs missing Debian packages, then builds with -j2.
#   make tour   build (release) and run the main job, gilfree-tour
#   make test   build and run every test: debug build, then the concurrent tests under
#               ThreadSanitizer and under AddressSanitizer+UBSan
#   make bench  build (release) and run the benchmarks side by side with their peers
.PHONY: all setup tour test test-debug test-tsan test-asan bench install clean

CMAKE ?= cmake
CTEST ?= ctest
JOBS  ?= 2

all: setup
	$(CMAKE) --preset release >/dev/null
	$(CMAKE) --build --preset release -j$(JOBS)

setup:
	@bash scripts/setup.sh

tour: setup
	$(CMAKE) --preset release >/dev/null
	$(CMAKE) --build --preset release -j$(JOBS) --target gilfree-tour
	./build/release/tools/gilfree-tour $(TOUR_ARGS)

test: setup test-debug test-tsan test-asan
	@echo "make test: all suites passed"

test-debug:
	$(CMAKE) --preset debug >/dev/null
	$(CMAKE) --build --preset debug -j$(JOBS)
	$(CTEST) --preset debug -j$(JOBS)

test-tsan:
	$(CMAKE) --preset tsan >/dev/null
	$(CMAKE) --build --preset tsan -j$(JOBS)
	$(CTEST) --preset tsan

test-asan:
	$(CMAKE) --preset asan >/dev/null
	$(CMAKE) --build --preset asan -j$(JOBS)
	$(CTEST) --preset asan -j$(JOBS)

bench: setup
	$(CMAKE) --preset release >/dev/null
	$(CMAKE) --build --preset release -j$(JOBS) --target benchmarks
	bash bench/run_all.sh build/release

install: all
	$(CMAKE) --install build/release --prefix $(or $(PREFIX),/usr/local)

clean:
	rm -rf build
