# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make demo   - run the main job end to end on embedded defaults
#   make test   - the whole suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV_VERSION ?= 0.13.9
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
DEV_PORT ?= 3000
PYTEST_ARGS ?=
# BI: Superset in its own virtualenv (bi/requirements.txt), metadata under data/superset.
BI_VENV ?= .venv-bi
SUPERSET_PORT ?= 8088
BI_ENV = SUPERSET_CONFIG_PATH=$(CURDIR)/bi/superset_config.py FLASK_APP=superset

.PHONY: install demo test dev check bench clean bi bi-setup bi-venv

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[dev]'
	touch $@

install: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	ln -sf $(CURDIR)/dagster.yaml $(DAGSTER_HOME)/dagster.yaml

demo: install
	$(VENV)/bin/jobs-pipeline demo

test: install
	bash .ci/ensure-services
	bash .ci/ensure-bi
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

dev: install
	$(VENV)/bin/dagster dev -w workspace.yaml -p $(DEV_PORT)

# Superset on 127.0.0.1:$(SUPERSET_PORT), in the foreground (docs/dashboards.md#superset).
bi: bi-setup
	$(BI_ENV) $(BI_VENV)/bin/superset run -h 127.0.0.1 -p $(SUPERSET_PORT) --with-threads

# Unattended, idempotent first start without serving: db upgrade, init, admin user, the exports.
bi-setup: install bi-venv
	$(BI_ENV) $(BI_VENV)/bin/python bi/bootstrap.py --snapshot "$$($(PY) bi/snapshot_path.py)"

bi-venv: install
	bash .ci/ensure-bi

check: install
	$(VENV)/bin/dg check defs
	$(VENV)/bin/dagster definitions validate -w workspace.yaml

bench: install
	$(PY) bench/validate_bench.py
	$(PY) bench/publish_bench.py
	$(PY) bench/telemetry_bench.py
	$(PY) bench/anomaly_bench.py

clean:
	rm -rf data .dagster_home .pytest_cache
