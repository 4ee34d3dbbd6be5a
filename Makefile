# Two commands on a fresh machine with Python 3.11+ and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LOCK := requirements.lock

.PHONY: run test demo lint lint-ruff lint-mypy bench lock clean

run: $(INSTALLED)
	$(BIN)/inkwell serve

# Three pytest-xdist workers, whole files each (a module's shared server stays in one
# worker). Most tests wait on servers, sockets and subprocesses rather than compute: on
# 2 cores, two workers kept both busy 76% of the run and took 919 s; three kept them 91%
# busy and took 749 s on the same commit (800 s in a later run). Every test has its own
# key prefix, database and data directory, and the ones that flush, stop or freeze Redis
# do it to a private server. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 3
test: $(INSTALLED)
	$(BIN)/python -m pytest --numprocesses $(TEST_WORKERS) --dist loadfile

demo: $(INSTALLED)
	$(BIN)/inkwell demo

# Every benchmark (< 15 min on 2 cores), then docs/benchmarks.md rewritten from their sections.
bench: $(INSTALLED)
	$(BIN)/python -m bench

# ruff, then strict mypy over every folder with Python in it (the pre-commit hooks run the same).
lint: lint-ruff lint-mypy

lint-ruff: $(INSTALLED)
	$(BIN)/ruff check .

lint-mypy: $(INSTALLED)
	$(BIN)/mypy domain eventstore projections schema auth infra cli observability web protection wiring inkwell harness server.py tests bench

# The venv holds exactly what the lock names: when the lock (or pyproject.toml) changes,
# it is built again from nothing, so a package dropped from the lock is gone too.
# Then the project itself, editable and without dependencies: that puts the repository
# on the venv's path and writes the `inkwell` console script.
$(INSTALLED): $(LOCK) pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --editable .
	touch $(INSTALLED)

# After changing the dependencies in pyproject.toml: pins every package, for every
# platform and Python >= 3.11, with hashes (the build backend included).
UV := .tools/uv/bin/uv
lock:
	test -x $(UV) || $(PYTHON) -m pip install --quiet --target .tools/uv uv==0.13.8
	$(PYTHON) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	  | $(UV) pip compile pyproject.toml - --all-extras --universal --generate-hashes \
	      --python-version 3.11 --quiet --output-file $(LOCK)

clean:
	rm -rf $(VENV) .tools data .pytest_cache
