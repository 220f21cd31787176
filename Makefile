# The two commands: `make demo` and `make test`. Both install what is missing
# (scripts/install-deps), configure and build with meson, then run.

BUILD ?= build
ASAN  ?= build-asan
FUZZ  ?= build-fuzz
# Seconds each fuzz harness runs for (make fuzz SECONDS=600).
SECONDS ?= 30
AUGMENT = $(BUILD)/src/cli/augment
DEMO_OUT ?= demo-out

# Warnings are errors in every build these targets make (CI runs `make test`).
MESON_COMMON = -Dwerror=true

.PHONY: all deps build asan demo test fuzz faults valgrind bench docs clean

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
	 LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp \
	 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	 scripts/run-tests $(BUILD) $(ASAN)

# libFuzzer harnesses (fuzz/), clang with ASan and UBSan: build them, make
# the seed corpora from samples/ and tests/fixtures/, and run each harness
# for SECONDS, two at a time under nice; fails on any crash, hang or leak.
# Then the corpora are replayed through GCC builds of the harnesses (the
# code clang does not build, scripts/fuzz-replay-gcc). See docs/RELIABILITY.md.
fuzz:
	@scripts/install-deps fuzz
	@test -f $(FUZZ)/build.ninja || CC=clang meson setup $(FUZZ) --buildtype=debugoptimized \
		-Dfuzz=true -Dtests=false -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=undefined -Dc_link_args=-fno-sanitize-recover=undefined
	@meson compile -C $(FUZZ)
	@scripts/fuzz-corpus $(FUZZ)
	@scripts/fuzz-run $(FUZZ) $(SECONDS)
	@if [ -f $(ASAN)/libaugment.a ]; then scripts/fuzz-replay-gcc $(FUZZ) $(ASAN); \
	 else echo "fuzz: no GCC replay of the corpora ($(ASAN) is not built; make test builds it)"; fi

# The fault tests' long form: augment run and augment train killed at 20
# random moments each, then rerun or resumed (docs/RELIABILITY.md).
faults: build
	@python3 scripts/fault-kill all --points 20

# augment against torchvision, OpenCV, libjpeg-turbo, vipsthumbnail and
# mogrify (bench/compare.sh; results in bench/results/<date>/). Installs the
# peers first. ROUNDS=5 SECONDS_PER=4 by default.
bench: build
	@scripts/install-deps bench
	@bench/compare.sh all

# Valgrind memcheck over every CLI command on the samples.
valgrind: build
	@scripts/valgrind-cli $(BUILD)

# The two pictures, made alike by `make demo` (into demo-out/) and `make docs`
# (into docs/, for the README).
GRID_IN = samples/images/animal samples/images/people samples/images/space/rocket.jpg
GRID_OPT = --samples 5 --cell 112x112
STAGES_IN = samples/images/animal samples/images/space/rocket.jpg
STAGES_OPT = --per-stage --cell 96x96

# The main job on the bundled samples: describe the data set, write 4
# augmented copies of every image, and draw what the pipeline does.
demo: build
	@echo "== augment info samples/images"
	@$(AUGMENT) info samples/images
	@echo
	@echo "== augment run samples/images -o $(DEMO_OUT)/images -p samples/pipelines/photos.aug --copies 4"
	@$(AUGMENT) run samples/images -o $(DEMO_OUT)/images -p samples/pipelines/photos.aug \
		--copies 4 --seed 1 --log-params $(DEMO_OUT)/params.jsonl
	@echo
	@echo "== augment grid $(GRID_IN) -p samples/pipelines/imagenet.aug -o $(DEMO_OUT)/grid.png"
	@$(AUGMENT) grid $(GRID_IN) -p samples/pipelines/imagenet.aug -o $(DEMO_OUT)/grid.png $(GRID_OPT)
	@$(AUGMENT) grid $(STAGES_IN) -p samples/pipelines/showcase.aug -o $(DEMO_OUT)/stages.png $(STAGES_OPT)
	@echo
	@echo "demo: augmented images in $(DEMO_OUT)/images/, drawn parameters in $(DEMO_OUT)/params.jsonl,"
	@echo "      sample grid in $(DEMO_OUT)/grid.png, one column per stage in $(DEMO_OUT)/stages.png"

# The pictures in the README, and its stage reference.
docs: build
	$(AUGMENT) grid $(GRID_IN) -p samples/pipelines/imagenet.aug -o docs/grid.png $(GRID_OPT)
	$(AUGMENT) grid $(STAGES_IN) -p samples/pipelines/showcase.aug -o docs/stages.png $(STAGES_OPT)
	scripts/update-readme $(AUGMENT)

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ) $(DEMO_OUT)
