# The two set-up commands of the README: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test clean sample-traces

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hetier trace mobilenetv2 --width 0.35 --resolution 32 --batch 16 \
		--granularity tensor -o out/mobilenetv2-0.35-32.arrow --force
	$(BIN)/hetier info out/mobilenetv2-0.35-32.arrow

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) out

# Regenerate the committed sample traces (traces/README.md says what they are).
sample-traces: $(STAMP)
	$(BIN)/hetier trace mlp --activation relu --batch 8 --granularity ciphertext \
		-o traces/mlp-relu-b8.ciphertext.arrow --force
	$(BIN)/hetier trace cryptonets --batch 64 --granularity tensor \
		-o traces/cryptonets-b64.tensor.arrow --force
