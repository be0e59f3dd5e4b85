#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME (default 30s), one after another (a
# fuzz run uses every core it is given), and prints one summary line per
# target. FUZZPARALLEL caps the fuzzing workers (default: all cores).
# New inputs found are kept in Go's cache; a failing input is written to
# the package's testdata/fuzz/<Target>/ and fails the run.
set -u
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
# Go minimizes every new interesting input for up to 60s by default, and
# counts no execs meanwhile; slow targets (FuzzParse) then spend most of
# a short run minimizing.
PAR=(-fuzzminimizetime "${FUZZMINIMIZETIME:-10s}")
[ -n "${FUZZPARALLEL:-}" ] && PAR+=(-parallel "$FUZZPARALLEL")
# package target: the list `make fuzz` runs (docs/reliability.md says what
# each checks).
TARGETS="
./auth/verifier FuzzVerify
./auth/verifier FuzzScanObject
./auth/claims FuzzLookup
./control/config FuzzParse
./events FuzzDecode
./edge/proxy FuzzRewriteRequest
./edge/proxy FuzzScanResponse
./edge/proxy FuzzInspectFrame
./edge/proxy FuzzStreamRelay
./edge/proxy FuzzParseChatRequest
"
logdir=${FUZZLOGS:-$(mktemp -d)}
mkdir -p "$logdir"
summary=()
failed=0
while read -r pkg target; do
	[ -z "$pkg" ] && continue
	log="$logdir/$target.log"
	echo "== $target ($pkg) for $FUZZTIME"
	start=$(date +%s)
	$GO test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "${PAR[@]}" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | awk '{print $2}')
	if [ $rc -eq 0 ]; then
		result=ok
	else
		result=FAIL
		failed=1
		tail -20 "$log"
	fi
	summary+=("$(printf '%-20s %-20s %6ss %12s execs  %s' "$target" "$pkg" "$secs" "${execs:-0}" "$result")")
done <<<"$TARGETS"
echo
echo "fuzz summary (FUZZTIME=$FUZZTIME, logs in $logdir):"
printf '%s\n' "${summary[@]}"
exit $failed
