# The two commands of the README. Each does its own set-up on a fresh Debian/Ubuntu machine.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

.PHONY: run test ui bench

## run: build the console and serve it at http://127.0.0.1:8080 with demo accounts
run:
	scripts/setup.sh run
	scripts/build-ui.sh
	cargo build --release -p backend
	$(TARGET_DIR)/release/greenlight serve --demo

## test: formatting, lints, unit + integration tests, the wasm build and the browser tests
test:
	scripts/test.sh

## ui: rebuild only the console bundle
ui:
	scripts/build-ui.sh

## bench: the scoring router's added latency and throughput (backend/benches/scoring.rs), the router against
## nginx (backend/benches/vs_nginx.rs), approval -> new split, the audit review over 1,000,000 events,
## zero dropped requests through a whole rollout (exits non-zero on any), the live feed to 1,000 SSE
## subscribers, and the console's idle memory, first paint and transfer
bench:
	scripts/setup.sh bench
	cargo bench -p backend --bench scoring
	cargo bench -p backend --bench vs_nginx
	cargo test -p backend --test api approval_to_serving -- --ignored --nocapture
	cargo test -p backend --test api audit_review_benchmark -- --ignored --nocapture
	cargo test -p backend --test api zero_dropped_requests -- --ignored --nocapture
	cargo test -p backend --test process live_feed_to_1000_subscribers -- --ignored --nocapture
	scripts/bench-weight.sh
