#!/bin/bash
# fuzz/campaign.sh TOTAL TARGET... — the long fuzzing campaign (make fuzz-long): each target runs
# until its executions in fuzz/campaign.tsv add up to TOTAL (a target already there is skipped),
# or for FUZZ_LONG_SECONDS (default 3600), whichever comes first, under ASan + UBSan, two targets
# at a time (FUZZ_JOBS). Each run first merges the kept run corpus with the seeds (libFuzzer
# -merge=1), so the corpus the scheduler walks holds only inputs that add coverage. One line per
# run is appended to fuzz/campaign.tsv (date, target, executions, seconds, coverage, features,
# result); `fuzz/campaign.sh --report` prints the totals per target as the table in
# fuzz/README.md. A crash leaves its input in fuzz/crashes/TARGET/ and fails the run. To end a
# campaign early, stop xargs and send SIGINT to the fuzzers: their runs are kept as "stopped".
#
# -entropic=0: clang 14's entropic scheduler spent 27-63% of the time of the targets with the
# most features (fuzz_conf, fuzz_smtp_line, fuzz_smtp_data) in UpdateFeatureFrequency (perf);
# without it fuzz_conf runs 3.1x the executions per second. `make fuzz` keeps the default.
# ASan's quarantine of freed memory is 16 MB instead of 256 MB (unless ASAN_OPTIONS is set):
# still far more than one execution frees (inputs are at most 4 KB), so a use after free within
# an execution is still caught, and memory is reused while hot instead of faulted in again
# (10-25% more executions per second for fuzz_conf, fuzz_web and fuzz_smtp_line).
set -u
cd "$(dirname "$0")/.."
TSV=fuzz/campaign.tsv
[ -f "$TSV" ] || printf 'date\ttarget\texecutions\tseconds\tcov\tft\tresult\n' > "$TSV"

report() {
	echo "| target | runs | executions | seconds | max cov | max ft | failed runs |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	awk -F'\t' 'NR > 1 { e[$2] += $3; s[$2] += $4; if ($5 > c[$2]) c[$2] = $5;
	                      if ($6 > f[$2]) f[$2] = $6; if ($7 == "FAIL") bad[$2]++; n[$2]++ }
	            END { for (t in e) printf "| %s | %d | %d | %d | %d | %d | %d |\n",
	                        t, n[t], e[t], s[t], c[t], f[t], bad[t] }' "$TSV" | sort
}
if [ "${1:-}" = "--report" ]; then report; exit 0; fi

total=$1; shift
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16}
secs=${FUZZ_LONG_SECONDS:-3600}
jobs=${FUZZ_JOBS:-2}

# The executions target $1 has left to reach $2 in all.
remaining() {
	awk -F'\t' -v t="$1" -v total="$2" 'NR > 1 && $2 == t { e += $3 }
		END { print (total > e ? total - e : 0) }' "$TSV"
}

# Replace fuzz/corpus-run/$1 by the inputs of it and the seeds that add coverage.
merge_corpus() {
	local t=$1 new="fuzz/corpus-run/.$1.merge"
	rm -rf "$new" && mkdir -p "$new"
	if "build-fuzz/$t" -merge=1 -max_len=4096 -timeout=10 -rss_limit_mb=2048 "$new" \
		"fuzz/corpus-run/$t" "fuzz/corpus/$t" > /dev/null 2>&1; then
		rm -rf "fuzz/corpus-run/$t" && mv "$new" "fuzz/corpus-run/$t"
	else
		rm -rf "$new" # a crash while merging shows again in the run itself
	fi
}

one() {
	local t=$1 total=$2 secs=$3 runs log start end execs cov ft result
	runs=$(remaining "$t" "$total")
	if [ "$runs" -eq 0 ]; then echo "== $t: $total executions reached, skipped"; return 0; fi
	mkdir -p "fuzz/corpus-run/$t" "fuzz/crashes/$t"
	merge_corpus "$t"
	log=$(mktemp)
	start=$(date +%s)
	if "build-fuzz/$t" -runs="$runs" -max_total_time="$secs" -max_len=4096 -timeout=10 \
		-entropic=0 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="fuzz/crashes/$t/" \
		"fuzz/corpus-run/$t" "fuzz/corpus/$t" > "$log" 2>&1; then result=ok
	elif [ $? -eq 72 ]; then result=stopped # SIGINT: libFuzzer's -interrupted_exitcode
	else result=FAIL; fi
	end=$(date +%s)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "${execs:-0}" \
		$((end - start)) "${cov:-0}" "${ft:-0}" "$result" >> "$TSV"
	echo "== $t: $result, ${execs:-0} executions in $((end - start)) s, cov ${cov:-0}"
	[ "$result" = FAIL ] && tail -40 "$log"
	rm -f "$log"
	[ "$result" != FAIL ]
}
export -f one remaining merge_corpus
export TSV
printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'one "$@"' _ {} "$total" "$secs"
status=$?
report
exit $status
