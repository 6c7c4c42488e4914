# tap.sh: what the integration scripts share, sourced (not run: it lives
# outside the test/integration/*.sh glob scripts/run-decoding-tests runs).
#
#   tap_init NAME            counters and the name the summary line carries
#   ok / not_ok DESCRIPTION  one result line each
#   finish                   "NAME: N passed, N failed", exit non-zero on failure
#   require_cluster [VAR...] fail clearly unless PGHOST/PGPORT/PGUSER (and VARs) are set
#   poll_until SECONDS CMD   run CMD until it succeeds or SECONDS pass
#   require_sidecar          set BINARY to the mosta-sidecar to test (MOSTA_SIDECAR_BIN,
#                            MOSTA_SIDECAR, else build/sidecar/mosta-sidecar) and check it exists

tap_init() {
	tap_name=$1
	passed=0
	failed=0
}

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }

finish() {
	echo "$tap_name: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

# fail_setup MESSAGE: the test cannot run at all; counts as a failure.
fail_setup() {
	echo "$tap_name: $*" >&2
	failed=1
	finish
}

require_cluster() {
	local variable
	for variable in PGHOST PGPORT PGUSER "$@"; do
		[ -n "${!variable:-}" ] || fail_setup "$variable is not set: run under scripts/pg-cluster run"
	done
}

require_sidecar() {
	BINARY=${MOSTA_SIDECAR_BIN:-${MOSTA_SIDECAR:-build/sidecar/mosta-sidecar}}
	[ -x "$BINARY" ] || fail_setup "$BINARY not found: build it with cmake -S . -B build && cmake --build build -j2"
}

# poll_until SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds (0) or SECONDS pass (1).
poll_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.1 # --allow-sleep: poll interval of a loop bounded by the deadline
	done
}
