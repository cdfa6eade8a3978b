#!/usr/bin/env bash
# WAL append+fdatasync versus fio (--direct=1 --fdatasync=1 --rw=write) on the same disk, with
# the same block sizes, several runs, medians in a table.
#
#   bench/scripts/wal-vs-fio.sh [--runs N] [--seconds S] [--dir DIR] [--no-build]
#
# Binaries come from $CARGO_TARGET_DIR (default: the repository's target/); --no-build uses
# them as they are instead of running `cargo build --release` first.
# DIR (default: $CORRAL_BENCH_DIR, else the working directory) must be on the disk to measure,
# not tmpfs. fio writes a 1 GiB file that is filled with zeros first, so that fio, like the WAL
# (whose segments are zero-filled before use), overwrites allocated blocks and never extends a
# file or converts unwritten extents. Each run measures every size with fio and then with the
# WAL (bench/examples/wal_rate.rs), so both see the same background load.
#
# Rows: WAL batch size and the fio block size it is compared with. `payload:100` is one 100-byte
# entry (the WAL writes a 4 KiB frame); `frame:N` is one entry whose frame is exactly N bytes;
# `payload:4K` shows what a 4 KiB entry costs (its headers push the frame to 8 KiB) against fio
# writing 4 KiB. WAL/fio is the ratio of the median sync rates, which for equal bytes per write
# is also the ratio of bandwidths; "run ratio" is the median of each run's own WAL/fio ratio,
# the steadier figure on a disk whose speed drifts with other load.
set -euo pipefail

runs=5
seconds=5
dir="${CORRAL_BENCH_DIR:-$PWD}"
build=1
while (($#)); do
    case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

repo="$(cd "$(dirname "$0")/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
# WAL size | fio block size
rows=("payload:100|4k" "frame:4K|4k" "payload:4K|4k" "frame:64K|64k" "frame:1M|1m")

install_fio() {
    command -v fio >/dev/null && return 0
    echo "installing fio" >&2
    local sudo_cmd=()
    ((EUID == 0)) || sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends fio >/dev/null
}

check_dir() {
    mkdir -p "$dir"
    local fstype
    fstype="$(stat -f -c %T "$dir")"
    if [[ "$fstype" == tmpfs ]]; then
        echo "$dir is on tmpfs: give --dir (or CORRAL_BENCH_DIR) on the disk to measure" >&2
        exit 2
    fi
    echo "directory: $dir ($fstype, $(df -h --output=source "$dir" | tail -1))" >&2
}

# Prints "IOPS MB/s" of one fio run: field 48 of terse v3 output is the write bandwidth in KiB/s,
# field 49 the write IOPS.
run_fio() {
    local bs="$1" file="$2"
    fio --name=walcmp --filename="$file" --size=1g --bs="$bs" --rw=write --direct=1 \
        --fdatasync=1 --ioengine=sync --time_based --runtime="$seconds" \
        --output-format=terse --terse-version=3 2>/dev/null |
        awk -F';' '{ printf "%d %.1f\n", $49, $48 * 1024 / 1e6 }'
}

# Prints "SYNCS_PER_S MB/s" of one wal_rate run.
run_wal() {
    local size="$1" line
    line="$(CORRAL_BENCH_DIR="$work" "$target_dir/release/examples/wal_rate" "$seconds" "$size")"
    echo "$line" >>"$work/wal-lines.txt"
    awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
           print v["syncs_per_s"], v["mb_per_s"] }' <<<"$line"
}

median() {
    sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

install_fio
check_dir
if ((build)); then
    echo "building wal_rate (release)" >&2
    (cd "$repo" && cargo build --release -q -p corral-bench --example wal_rate)
fi
work="$(mktemp -d "$dir/wal-vs-fio.XXXXXX")"
trap 'rm -rf "$work"' EXIT
dd if=/dev/zero of="$work/fio.dat" bs=1M count=1024 conv=fsync status=none

for ((run = 1; run <= runs; run++)); do
    for row in "${rows[@]}"; do
        size="${row%|*}" bs="${row#*|}"
        # Alternate which goes first, so a drift in the background load favours neither.
        if ((run % 2)); then
            read -r fio_iops fio_mbs < <(run_fio "$bs" "$work/fio.dat")
            read -r wal_syncs wal_mbs < <(run_wal "$size")
        else
            read -r wal_syncs wal_mbs < <(run_wal "$size")
            read -r fio_iops fio_mbs < <(run_fio "$bs" "$work/fio.dat")
        fi
        echo "$run $size $bs $fio_iops $fio_mbs $wal_syncs $wal_mbs" >>"$work/results.txt"
        echo "run $run/$runs $size: fio ${fio_iops}/s ${fio_mbs} MB/s, WAL ${wal_syncs}/s ${wal_mbs} MB/s" >&2
    done
done

echo
echo "WAL vs fio, medians of $runs runs of ${seconds}s each ($(date -u +%FT%TZ), $(uname -r))"
printf '%-12s %-6s %11s %9s %11s %9s %8s %10s\n' "WAL size" "fio bs" "fio syncs/s" "fio MB/s" \
    "WAL syncs/s" "WAL MB/s" "WAL/fio" "run ratio"
for row in "${rows[@]}"; do
    size="${row%|*}" bs="${row#*|}"
    column() { awk -v s="$size" -v c="$1" '$2 == s { print $c }' "$work/results.txt" | median; }
    fio_iops="$(column 4)" fio_mbs="$(column 5)" wal_syncs="$(column 6)" wal_mbs="$(column 7)"
    ratio="$(awk -v w="$wal_syncs" -v f="$fio_iops" 'BEGIN { printf "%.2f", (f > 0 ? w / f : 0) }')"
    # The median of each run's own ratio: fio and the WAL of one run share its background load.
    run_ratio="$(awk -v s="$size" '$2 == s && $4 > 0 { print $6 / $4 }' "$work/results.txt" |
        median | awk '{ printf "%.2f", $1 }')"
    printf '%-12s %-6s %11s %9s %11s %9s %8s %10s\n' "$size" "$bs" "$fio_iops" "$fio_mbs" \
        "$wal_syncs" "$wal_mbs" "$ratio" "$run_ratio"
done
echo
echo "per-run figures: run, WAL size, fio bs, fio syncs/s, fio MB/s, WAL syncs/s, WAL MB/s"
cat "$work/results.txt"
