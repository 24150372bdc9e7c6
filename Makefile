# keel — the two set-up commands are `make migrate` and `make test`.

CARGO ?= cargo
KEEL  := target/release/keel

.PHONY: build migrate test lint bench fmt clean-dev-db

build:
	$(CARGO) build --release --locked

# Brings the database to head with all policies. With no database configured
# (no DATABASE_URL and no PG* variables), a local PostgreSQL under .keel/ is
# created and started first (`keel dev-db`).
migrate: build
	@if [ -z "$$DATABASE_URL$$PGHOST$$PGDATABASE$$PGPORT$$PGUSER" ]; then \
		$(KEEL) dev-db start >/dev/null && \
		echo "using the local dev database: $$($(KEEL) dev-db url)" && \
		DATABASE_URL="$$($(KEEL) dev-db url)" $(KEEL) upgrade head; \
	else \
		$(KEEL) upgrade head; \
	fi

# Unit tests, and CLI/integration tests against throwaway PostgreSQL clusters
# that the tests start themselves from the machine's server binaries.
# `make test PG=17` runs the integration suites against another major, whose
# server binaries scripts/pg-binaries fetches once (13 to 18).
PG ?=
INTEGRATION := --test runner --test policies --test lint --test verify --test cluster \
	--test library_run --test cli_extras --test lock_retry --test fleet --test safety --test interrupt
test:
	@if [ -n "$(PG)" ]; then \
		bindir=$$(scripts/pg-binaries $(PG)) && \
		echo "integration suites on $$($$bindir/postgres --version)" && \
		KEEL_PG_BINDIR=$$bindir $(CARGO) test --locked --no-fail-fast $(INTEGRATION); \
	else \
		$(CARGO) test --locked --all-targets; \
	fi

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

bench: build
	bash bench/run

clean-dev-db: build
	$(KEEL) dev-db destroy || true
	rm -rf .keel
