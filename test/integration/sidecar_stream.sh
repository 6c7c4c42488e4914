#!/usr/bin/env bash
# sidecar_stream.sh: the sidecar's ReplicationStream against a real server:
# runs the ReplicationStreamIT GoogleTest cases of the already built
# build/test/cpp/sidecar/sidecar_tests (cmake --build build, as make check
# does before this) in the cluster of PGHOST/PGPORT/PGUSER (for example
# under scripts/pg-cluster run). A skipped case counts as failed: here the
# server must be there. Prints "N passed, N failed"; exits non-zero when a
# case failed or the binary is missing.
set -uo pipefail
cd "$(dirname "$0")/../.."

BINARY=${MOSTA_SIDECAR_TESTS:-build/test/cpp/sidecar/sidecar_tests}
FILTER='ReplicationStreamIT.*'

if [ ! -x "$BINARY" ]; then
	echo "sidecar_stream: $BINARY not found: build it first with" >&2
	echo "  cmake -S . -B build && cmake --build build -j2" >&2
	echo "sidecar_stream: 0 passed, 1 failed"
	exit 1
fi
for variable in PGHOST PGPORT PGUSER; do
	if [ -z "${!variable:-}" ]; then
		echo "sidecar_stream: $variable is not set: run under scripts/pg-cluster run" >&2
		echo "sidecar_stream: 0 passed, 1 failed"
		exit 1
	fi
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$BINARY" --gtest_filter="$FILTER" --gtest_color=no 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

passed=$(grep -cE '^\[ +OK \] ' "$log")
failed=$(grep -cE '^\[ +(FAILED|SKIPPED) \] .*\(' "$log")
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
	failed=1 # crashed or aborted before its summary
fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
	echo "sidecar_stream: no test matched $FILTER" >&2
	failed=1
fi
echo "sidecar_stream: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
