# The two set-up commands of the README: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz fuzz-corpus clean sample-traces screenshot

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

DEMO_TRACE := out/mobilenetv2-0.35-32.arrow

# Trace a real encrypted MobileNetV2, summarise it, replay it on the standard comparison set:
# DRAM-only, all-PMem App Direct, DRAM-first spill and Memory Mode with 2 GB of DRAM (less than
# the ~3.8 GB footprint), write the report and, where Chromium is installed, its screenshot.
demo: $(STAMP)
	$(BIN)/hetier trace mobilenetv2 --width 0.35 --resolution 32 --classes 10 --batch 16 \
		--granularity tensor -o $(DEMO_TRACE) --force
	$(BIN)/hetier info $(DEMO_TRACE)
	$(BIN)/hetier replay $(DEMO_TRACE) --machine dram-only,optane-appdirect,optane-memory-mode \
		--policy all-pmem,dram-first --set optane-appdirect:dram.capacity_gb=2 \
		--set optane-memory-mode:dram.capacity_gb=2 -o out/results.arrow --force
	$(BIN)/hetier report $(DEMO_TRACE) out/results.arrow -o out/report.html --force
	@if command -v chromium >/dev/null 2>&1; then $(MAKE) --no-print-directory screenshot; \
	else echo "no chromium here: docs/report.png (the README's screenshot) not regenerated"; fi

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The long fuzz run: FUZZ_EXAMPLES (500) generated inputs per surface (make test runs a few of
# each plus the corpus); writes out/fuzz-report.json (inputs, tracebacks, hangs, stray files, peak
# memory) and the page docs/fuzz.md from it; fails if any input went wrong.
FUZZ_EXAMPLES ?= 500
fuzz: $(STAMP)
	-HETIER_FUZZ=long HETIER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -p no:cacheprovider tests/fuzz
	$(BIN)/python -m tests.fuzz.report out/fuzz-report.json --markdown docs/fuzz.md \
		--command "make fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES)"

# Regenerate the crafted files of tests/fuzz/corpus/.
fuzz-corpus: $(STAMP)
	$(BIN)/python -m tests.fuzz.make_corpus

clean:
	rm -rf $(VENV) out

# Regenerate the committed sample traces (traces/README.md says what they are).
sample-traces: $(STAMP)
	$(BIN)/hetier trace mlp --activation relu --batch 8 --granularity ciphertext \
		-o traces/mlp-relu-b8.ciphertext.arrow --force
	$(BIN)/hetier trace cryptonets --batch 64 --granularity tensor \
		-o traces/cryptonets-b64.tensor.arrow --force

# The README's screenshot: the demo's report rendered by headless Chromium.
screenshot: out/report.html
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir=$$(mktemp -d) --virtual-time-budget=20000 --hide-scrollbars \
		--window-size=1400,2400 --screenshot=docs/report.png file://$(CURDIR)/out/report.html
