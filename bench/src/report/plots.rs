//! The report's plots, drawn by plotters into SVG strings.
//!
//! Latency plots follow HdrHistogram's convention: the x axis is `log10(1 / (1 − p))`, so that
//! 90%, 99%, 99.9%, 99.99% are evenly spaced and the tail gets as much room as the body.
//! Throughput plots put the client count on a log2 axis.

use std::collections::BTreeMap;

use plotters::prelude::*;

use super::{median, runs_of, CaseRun};
use crate::results::RunResult;
use crate::servers::Target;
use crate::Error;

const WIDTH: u32 = 560;
const HEIGHT: u32 = 340;
/// Fewest client counts that make a throughput-versus-clients curve worth a plot.
const SCALING_POINTS_MIN: usize = 3;
/// The deepest percentile shown: 99.9999%, beyond which no run here has samples.
const NINES_MAX: f64 = 6.0;

fn color(target: Target) -> RGBColor {
    match target {
        Target::Corral => RGBColor(31, 119, 180),
        Target::ZooKeeper => RGBColor(214, 39, 40),
    }
}

fn label(target: Target) -> &'static str {
    match target {
        Target::Corral => "Corral",
        Target::ZooKeeper => "ZooKeeper",
    }
}

fn plot_error(error: impl std::fmt::Display) -> Error {
    format!("drawing a plot: {error}").into()
}

/// The label of x = `nines` on the percentile axis: 0 → `0%`, 1 → `90%`, 3 → `99.9%`.
pub fn percentile_label(nines: f64) -> String {
    let percentile = 100.0 * (1.0 - 10f64.powf(-nines));
    let decimals = (nines.round() as i64 - 2).max(0) as usize;
    format!("{percentile:.decimals$}%")
}

/// A run's percentile curve as `(nines, milliseconds)` points; the 100th percentile, which has
/// no place on this axis, is left out.
pub fn curve_points(result: &RunResult) -> Vec<(f64, f64)> {
    result
        .latency
        .curve
        .iter()
        .filter(|(percentile, _)| *percentile < 100.0)
        .map(|&(percentile, us)| {
            let nines = (1.0 / (1.0 - percentile / 100.0)).log10();
            (nines.min(NINES_MAX), us as f64 / 1000.0)
        })
        .collect()
}

/// The run of the median throughput among `runs` (the lower middle for an even count), the
/// one whose curve stands for its server.
fn median_run<'a>(runs: &[&'a RunResult]) -> Option<&'a RunResult> {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.throughput.total_cmp(&b.throughput));
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

/// The latency percentile plot of `case`, one curve per server (its median-throughput run).
pub fn latency_svg(runs: &[CaseRun], case: &str) -> Result<String, Error> {
    let curves: Vec<(Target, Vec<(f64, f64)>)> = Target::ALL
        .iter()
        .filter_map(|&target| {
            median_run(&runs_of(runs, case, target)).map(|run| (target, curve_points(run)))
        })
        .collect();
    let points = curves.iter().flat_map(|(_, points)| points.iter());
    let nines_max = points.clone().map(|p| p.0).fold(1.0, f64::max).ceil();
    let ms_max = points.map(|p| p.1).fold(0.001, f64::max) * 1.05;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{case}: latency by percentile"), ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..nines_max, 0.0..ms_max)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .x_labels(nines_max as usize + 1)
            .x_label_formatter(&|nines| percentile_label(*nines))
            .draw()
            .map_err(plot_error)?;
        for (target, points) in curves {
            let style = color(target).stroke_width(2);
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(plot_error)?
                .label(label(target))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

fn draw_legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), Error> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)
}

/// Throughput of one workload at one depth over several client counts, per server.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingSeries {
    pub workload: String,
    pub in_flight: u32,
    /// `(clients, median throughput)` in client order, per server.
    pub points: BTreeMap<Target, Vec<(u32, f64)>>,
}

/// The closed-loop runs of one workload at one depth (with no workload knobs) that cover
/// at least `SCALING_POINTS_MIN` client counts, as throughput-versus-clients series.
pub fn scaling_series(runs: &[CaseRun]) -> Vec<ScalingSeries> {
    // (workload, in_flight, value_bytes) → target → clients → throughputs
    type Key = (String, u32, u32);
    let mut groups: BTreeMap<Key, BTreeMap<Target, BTreeMap<u32, Vec<f64>>>> = BTreeMap::new();
    for run in runs {
        let spec = &run.result.spec;
        // Only the plain closed-loop cases, which carry their shape as their id: a case of the
        // same shape measured under other conditions (a large tree loaded) stays out.
        let plain_id = format!("{}-{}x{}", spec.workload, spec.clients, spec.in_flight);
        if spec.rate.is_some() || !spec.params.is_empty() || run.case != plain_id {
            continue;
        }
        let Ok(target) = Target::parse(&run.result.target) else {
            continue;
        };
        let key = (spec.workload.clone(), spec.in_flight, spec.value_bytes);
        groups
            .entry(key)
            .or_default()
            .entry(target)
            .or_default()
            .entry(spec.clients)
            .or_default()
            .push(run.result.throughput);
    }
    groups
        .into_iter()
        .filter(|(_, targets)| {
            targets
                .values()
                .any(|clients| clients.len() >= SCALING_POINTS_MIN)
        })
        .map(|((workload, in_flight, _), targets)| ScalingSeries {
            workload,
            in_flight,
            points: targets
                .into_iter()
                .map(|(target, clients)| {
                    let points = clients
                        .into_iter()
                        .map(|(count, values)| (count, median(values).unwrap_or(0.0)))
                        .collect();
                    (target, points)
                })
                .collect(),
        })
        .collect()
}

/// The throughput-versus-clients plot of one series, both servers on it.
pub fn scaling_svg(series: &ScalingSeries) -> Result<String, Error> {
    let all = series.points.values().flatten();
    let clients_max = all.clone().map(|p| p.0).max().unwrap_or(1).max(2);
    let throughput_max = all.clone().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let x_max = f64::from(clients_max).log2() + 0.3;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let caption = format!(
            "{}: throughput vs clients ({} in flight each)",
            series.workload, series.in_flight
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(65)
            .build_cartesian_2d(-0.3..x_max, 0.0..throughput_max)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("clients")
            .y_desc("operations/s")
            .x_labels(x_max.ceil() as usize + 1)
            .x_label_formatter(&|x| format!("{:.0}", 2f64.powf(*x)))
            .y_label_formatter(&|y| super::thousands(*y))
            .draw()
            .map_err(plot_error)?;
        for (&target, points) in &series.points {
            let style = color(target).stroke_width(2);
            let xy: Vec<(f64, f64)> = points
                .iter()
                .map(|&(clients, throughput)| (f64::from(clients).log2(), throughput))
                .collect();
            chart
                .draw_series(LineSeries::new(xy.clone(), style))
                .map_err(plot_error)?
                .label(label(target))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            chart
                .draw_series(
                    xy.into_iter()
                        .map(|p| Circle::new(p, 3, color(target).filled())),
                )
                .map_err(plot_error)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}
