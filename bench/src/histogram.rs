//! What each load-generator thread records: successes with their latency, errors by name and
//! workload-specific counters, only for operations completed inside the measured window.

use std::collections::BTreeMap;
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::client::error_name;
use crate::limits::LATENCY_US_MAX;
use crate::results::Latency;
use crate::Error;

/// HdrHistogram quantile iteration ticks per halving of the distance to 100%: a few points per
/// "nine" for the percentile plot.
const CURVE_TICKS_PER_HALF: u32 = 4;

/// The measured interval: operations completing before `start` are warm-up, after `end` drain.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

impl Window {
    pub fn contains(&self, instant: Instant) -> bool {
        instant >= self.start && instant < self.end
    }
}

/// One thread's (or one coordination workload's) measurements.
pub struct Recorder {
    histogram: Histogram<u64>,
    ops: u64,
    errors: BTreeMap<&'static str, u64>,
    extra: BTreeMap<&'static str, f64>,
    window: Window,
}

impl Recorder {
    pub fn new(window: Window) -> Result<Recorder, Error> {
        Ok(Recorder {
            histogram: Histogram::new_with_bounds(1, LATENCY_US_MAX, 3)?,
            ops: 0,
            errors: BTreeMap::new(),
            extra: BTreeMap::new(),
            window,
        })
    }

    pub fn window(&self) -> Window {
        self.window
    }

    /// Records a success completed at `completed` that was (meant to be) sent at `started`.
    pub fn success(&mut self, started: Instant, completed: Instant) {
        if !self.window.contains(completed) {
            return;
        }
        let micros = completed.saturating_duration_since(started).as_micros() as u64;
        self.histogram
            .saturating_record(micros.clamp(1, LATENCY_US_MAX));
        self.ops += 1;
    }

    /// Records a failed operation with ZooKeeper error `code`, if it completed in the window.
    pub fn error(&mut self, completed: Instant, code: i32) {
        if self.window.contains(completed) {
            *self.errors.entry(error_name(code)).or_insert(0) += 1;
        }
    }

    /// Records a failure that ended a session; counted whenever it happens, since a broken
    /// session changes the load of the whole measured interval.
    pub fn session_failure(&mut self, name: &'static str) {
        *self.errors.entry(name).or_insert(0) += 1;
    }

    /// Adds `value` to the workload counter `key`.
    pub fn add_extra(&mut self, key: &'static str, value: f64) {
        *self.extra.entry(key).or_insert(0.0) += value;
    }

    pub fn ops(&self) -> u64 {
        self.ops
    }

    pub fn merge(&mut self, other: &Recorder) -> Result<(), Error> {
        self.histogram.add(&other.histogram)?;
        self.ops += other.ops;
        for (name, count) in &other.errors {
            *self.errors.entry(name).or_insert(0) += count;
        }
        for (key, value) in &other.extra {
            *self.extra.entry(key).or_insert(0.0) += value;
        }
        Ok(())
    }

    pub fn latency(&self) -> Latency {
        latency_of(&self.histogram)
    }

    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors
            .iter()
            .map(|(name, count)| (name.to_string(), *count))
            .collect()
    }

    pub fn extra(&self) -> BTreeMap<String, f64> {
        self.extra
            .iter()
            .map(|(key, value)| (key.to_string(), *value))
            .collect()
    }
}

/// The summary and the percentile curve of a histogram of microseconds.
pub fn latency_of(histogram: &Histogram<u64>) -> Latency {
    if histogram.is_empty() {
        return Latency::default();
    }
    let curve = histogram
        .iter_quantiles(CURVE_TICKS_PER_HALF)
        .map(|point| {
            (
                point.quantile_iterated_to() * 100.0,
                histogram.highest_equivalent(point.value_iterated_to()),
            )
        })
        .collect();
    Latency {
        count: histogram.len(),
        mean_us: histogram.mean(),
        p50_us: histogram.value_at_quantile(0.5),
        p90_us: histogram.value_at_quantile(0.9),
        p99_us: histogram.value_at_quantile(0.99),
        p999_us: histogram.value_at_quantile(0.999),
        p9999_us: histogram.value_at_quantile(0.9999),
        max_us: histogram.max(),
        curve,
    }
}
