#!/bin/bash
# fuzz/campaign.sh RUNS TARGET... — the long fuzzing campaign (make fuzz-long): each target runs
# RUNS executions (or FUZZ_LONG_SECONDS, default 3600, whichever comes first) under ASan + UBSan
# from its seed corpus and the kept run corpus, two targets at a time (FUZZ_JOBS). One line per
# run is appended to fuzz/campaign.tsv (date, target, executions, seconds, coverage, features,
# result); `fuzz/campaign.sh --report` prints the totals per target as the table in
# fuzz/README.md. A crash leaves its input in fuzz/crashes/TARGET/ and fails the run.
set -u
cd "$(dirname "$0")/.."
TSV=fuzz/campaign.tsv
[ -f "$TSV" ] || printf 'date\ttarget\texecutions\tseconds\tcov\tft\tresult\n' > "$TSV"

report() {
	echo "| target | runs | executions | seconds | max cov | max ft | failed runs |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	awk -F'\t' 'NR > 1 { e[$2] += $3; s[$2] += $4; if ($5 > c[$2]) c[$2] = $5;
	                      if ($6 > f[$2]) f[$2] = $6; if ($7 != "ok") bad[$2]++; n[$2]++ }
	            END { for (t in e) printf "| %s | %d | %d | %d | %d | %d | %d |\n",
	                        t, n[t], e[t], s[t], c[t], f[t], bad[t] }' "$TSV" | sort
}
if [ "${1:-}" = "--report" ]; then report; exit 0; fi

runs=$1; shift
secs=${FUZZ_LONG_SECONDS:-3600}
jobs=${FUZZ_JOBS:-2}

one() {
	local t=$1 runs=$2 secs=$3 log start end execs cov ft result
	mkdir -p "fuzz/corpus-run/$t" "fuzz/crashes/$t"
	log=$(mktemp)
	start=$(date +%s)
	if "build-fuzz/$t" -runs="$runs" -max_total_time="$secs" -max_len=4096 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="fuzz/crashes/$t/" \
		"fuzz/corpus-run/$t" "fuzz/corpus/$t" > "$log" 2>&1; then result=ok; else result=FAIL; fi
	end=$(date +%s)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "${execs:-0}" \
		$((end - start)) "${cov:-0}" "${ft:-0}" "$result" >> "$TSV"
	echo "== $t: $result, ${execs:-0} executions in $((end - start)) s, cov ${cov:-0}"
	[ "$result" = ok ] || tail -40 "$log"
	rm -f "$log"
	[ "$result" = ok ]
}
export -f one
export TSV
printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'one "$@"' _ {} "$runs" "$secs"
status=$?
report
exit $status
