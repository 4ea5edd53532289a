# The README's two commands: `make demo` and `make test`. Both create .venv on their own.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# The servers and names the demo and the tests use. Override any of them (on the command
# line or in the environment) to run beside another checkout on the same servers: the
# tests create databases named $(DB_PREFIX)_<what>_<random> and drop only those.
PG_SERVER ?= postgres://postgres@127.0.0.1:5432
DB_PREFIX ?= chatter
PG_URL ?= $(PG_SERVER)/$(DB_PREFIX)
REDIS_URL ?= redis://127.0.0.1:6379/0
TEST_REDIS_URL ?= redis://127.0.0.1:6379/7
export CHATTER_TEST_PG := $(PG_SERVER)
export CHATTER_TEST_DB_PREFIX := $(DB_PREFIX)
export CHATTER_TEST_REDIS_URL := $(TEST_REDIS_URL)

.PHONY: screenshots demo demo-tenants test lint typecheck unit pg tenants browser docs coverage-erase coverage \
	bench bench-search bench-profile bench-latency clean
# Every pytest stage runs under coverage; `make coverage` combines them (and the Daphne and
# manage.py processes they start) and enforces the floor of pyproject.toml.
PYTEST := $(PY) -m coverage run -m pytest

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,docs,redis,tenants,push]"
	touch $@

demo: $(VENV)/.installed
	cd example && ../$(PY) manage.py migrate --noinput
	cd example && ../$(PY) manage.py demo_users
	cd example && test -f vapid_keys.py || { ../$(PY) manage.py chatter_vapid_keys \
		--subject mailto:demo@example.com > vapid_keys.tmp && mv vapid_keys.tmp vapid_keys.py; }
	cd example && DJANGO_SETTINGS_MODULE=settings ../$(VENV)/bin/daphne -b 127.0.0.1 -p $(PORT) asgi:application

demo-tenants: $(VENV)/.installed
	cd example && CHATTER_DATABASE_URL=$(PG_URL)_tenants CHATTER_REDIS_URL=$(REDIS_URL) \
		PORT=$(PORT) DJANGO_SETTINGS_MODULE=settings_tenants ../$(PY) manage.py demo_tenants
	cd example && CHATTER_DATABASE_URL=$(PG_URL)_tenants CHATTER_REDIS_URL=$(REDIS_URL) \
		DJANGO_SETTINGS_MODULE=settings_tenants ../$(VENV)/bin/daphne -b 127.0.0.1 -p $(PORT) asgi:application

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check chatter tests example bench

# mypy --strict on the package, with the Django plugin (tests.settings imports the demo's).
typecheck: $(VENV)/.installed
	PYTHONPATH=.:example $(VENV)/bin/mypy

# Fast suite on SQLite + in-memory channel layer; PostgreSQL-only tests are skipped there.
unit: $(VENV)/.installed
	$(PYTEST) -q -m "not browser" --ignore=tests/tenants

# The tests that need the real PostgreSQL server (concurrency) and the real Redis server.
pg: $(VENV)/.installed
	CHATTER_DATABASE_URL=$(PG_URL) $(PYTEST) -q -m "postgres or redis" --ignore=tests/tenants

# django-tenants on PostgreSQL, with real schemas created once per session.
tenants: $(VENV)/.installed
	CHATTER_DATABASE_URL=$(PG_URL)_tenants $(PYTEST) -q tests/tenants \
		--ds=tests.settings_tenants

browser: $(VENV)/.installed
	$(PYTEST) -q -m browser --ignore=tests/tenants

# The browser tests that take the documentation's screenshots, writing them into it (each
# test these select writes its screenshots into CHATTER_SCREENSHOTS only).
SCREENSHOT_TESTS = from_profile or two_tenants or test_browser_actions or test_browser_formatting \
	or test_browser_mentions or test_browser_groups or test_browser_moderation or test_browser_notify \
	or test_browser_search or test_browser_attachments or test_browser_push

screenshots: $(VENV)/.installed
	CHATTER_SCREENSHOTS=$(CURDIR)/docs/_static/screenshots $(PY) -m pytest -q -m browser \
		--ignore=tests/tenants -k "$(SCREENSHOT_TESTS)"

docs: $(VENV)/.installed
	$(VENV)/bin/sphinx-build -q -W --keep-going -b html docs docs/_build/html

coverage-erase: $(VENV)/.installed
	$(PY) -m coverage erase

# Branch coverage of all the stages together; the floor is fail_under in pyproject.toml.
coverage: $(VENV)/.installed
	$(PY) -m coverage combine -q
	$(PY) -m coverage report

test: lint typecheck coverage-erase unit pg tenants browser docs coverage

# The load harness of issue 8 (bench/README.md): QUICK=1 for a short run, BENCH=S2,S6 for
# some scenarios, SYSTEMS=a,c for some systems. Needs redis-server and taskset.
BENCH_ARGS = $(if $(QUICK),--quick) $(if $(BENCH),--only $(BENCH)) $(if $(SYSTEMS),--systems $(SYSTEMS))

$(VENV)/.bench-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[bench]"
	touch $@

# The search figures first, so that the report of the run shows them beside the live ones.
bench: $(VENV)/.bench-installed bench-search
	$(PY) bench/harness.py $(BENCH_ARGS)

# Message search at size (bench/search.py): 1,000,000 messages in 1,000 rooms.
bench-search: $(VENV)/.installed
	$(PY) bench/search.py $(if $(QUICK),--quick)

bench-profile: $(VENV)/.bench-installed
	$(PY) bench/profile.py $(if $(SYSTEMS),--systems $(SYSTEMS))

bench-latency: $(VENV)/.installed
	$(PY) bench/latency.py

clean:
	rm -rf $(VENV) docs/_build example/db.sqlite3 build *.egg-info .coverage .coverage.* .mypy_cache
