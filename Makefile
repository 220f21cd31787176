# The two commands: `make demo` and `make test`. Both install what is missing
# (scripts/install-deps), configure and build with meson, then run.

BUILD ?= build
ASAN  ?= build-asan
AUGMENT = $(BUILD)/src/cli/augment
DEMO_OUT ?= demo-out

# Warnings are errors in every build these targets make (CI runs `make test`).
MESON_COMMON = -Dwerror=true

.PHONY: all deps build asan demo test bench clean

all: build

deps:
	@scripts/install-deps

build: deps
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD) --buildtype=release $(MESON_COMMON)
	@meson compile -C $(BUILD)

# AddressSanitizer + UndefinedBehaviorSanitizer; UB aborts the test that hit it.
asan: deps
	@test -f $(ASAN)/build.ninja || meson setup $(ASAN) --buildtype=debugoptimized \
		-Db_sanitize=address,undefined -Db_lundef=false $(MESON_COMMON) \
		-Dc_args=-fno-sanitize-recover=undefined -Dc_link_args=-fno-sanitize-recover=undefined
	@meson compile -C $(ASAN)

test: build asan
	@ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	 scripts/run-tests $(BUILD) $(ASAN)

demo: build
	@echo "== augment info samples/images"
	@$(AUGMENT) info samples/images

clean:
	rm -rf $(BUILD) $(ASAN) $(DEMO_OUT)
