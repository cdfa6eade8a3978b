//! WAL append + fdatasync, as the server's WAL thread does it: one entry plus the hard state per
//! append, into a preallocated (zero-filled) segment on the disk under `CORRAL_BENCH_DIR` (or the
//! working directory; never tmpfs).
//!
//! `cargo bench -p corral-bench --bench wal_append`
//!
//! Sizes: one 100-byte entry (a 4 KiB frame: throughput in appends, i.e. syncs, per second),
//! then frames of exactly 4 KiB, 64 KiB and 1 MiB (throughput in bytes written per second), the
//! block sizes `scripts/wal-vs-fio.sh` gives fio. Roll-overs to a new segment and the background
//! zero-filling they start are not timed (see `corral_bench::wal_load`).

use std::time::Duration;

use corral_bench::wal_load::{bench_dir, BatchSize, WalAppender};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SIZES: [BatchSize; 4] = [
    BatchSize::Payload(100),
    BatchSize::Frame(4096),
    BatchSize::Frame(64 * 1024),
    BatchSize::Frame(1024 * 1024),
];

fn wal_append(criterion: &mut Criterion) {
    let parent = bench_dir();
    let mut group = criterion.benchmark_group("wal_append_sync");
    // Every sample is dominated by a device flush; a few dozen samples of a few seconds give a
    // stable median without writing gigabytes.
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(8));
    for size in SIZES {
        // A benchmark can only report a failure by panicking: the message names the cause.
        let mut appender = WalAppender::open(&parent, size)
            .unwrap_or_else(|error| panic!("WAL under {}: {error}", parent.display()));
        if !appender.direct_io() {
            eprintln!("warning: the filesystem refused O_DIRECT; the WAL writes buffered");
        }
        let throughput = match size {
            BatchSize::Payload(_) => Throughput::Elements(1),
            BatchSize::Frame(bytes) => Throughput::Bytes(bytes),
        };
        group.throughput(throughput);
        let id = BenchmarkId::from_parameter(size);
        group.bench_function(id, |bencher| {
            bencher.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    total += appender
                        .append_timed()
                        .unwrap_or_else(|error| panic!("WAL append failed: {error}"));
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, wal_append);
criterion_main!(benches);
