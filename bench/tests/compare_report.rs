//! The comparison's summary and report, built from hand-made results: the ratios are the right
//! numbers, the tables carry them, and the HTML holds one plot per case and per sweep.

use std::collections::BTreeMap;

use corral_bench::report::{self, CaseRun, TreeMeasure, NO_FSYNC_CASE, OPEN_LOOP_CASE};
use corral_bench::results::{Latency, Memory, RunResult, RunSpec};

fn spec(workload: &str, clients: u32, in_flight: u32) -> RunSpec {
    RunSpec {
        workload: workload.to_string(),
        servers: vec!["127.0.0.1:2181".into()],
        clients,
        in_flight,
        rate: None,
        value_bytes: 100,
        threads: 1,
        warmup_seconds: 1.0,
        seconds: 10.0,
        params: BTreeMap::new(),
    }
}

/// A run of `case` with the given throughput, p99 and p99.9 (µs) and median RSS (KiB).
fn run(case: &str, target: &str, round: u32, figures: (f64, u64, u64, u64)) -> CaseRun {
    let (throughput, p99_us, p999_us, rss_kib) = figures;
    let (workload, shape) = case.split_once('-').unwrap_or((case, "64x1"));
    let (clients, in_flight) = shape.split_once('x').unwrap_or(("64", "1"));
    let mut spec = spec(
        workload,
        clients.parse().unwrap_or(64),
        in_flight.parse().unwrap_or(1),
    );
    if case == OPEN_LOOP_CASE {
        spec.rate = Some(1000.0);
    }
    let curve = vec![
        (0.0, 100),
        (50.0, p99_us / 4),
        (90.0, p99_us / 2),
        (99.0, p99_us),
        (99.9, p999_us),
        (99.99, p999_us * 2),
        (100.0, p999_us * 3),
    ];
    CaseRun {
        case: case.to_string(),
        round,
        result: RunResult {
            spec,
            target: target.to_string(),
            started_unix_ms: 0,
            elapsed_seconds: 10.0,
            ops: (throughput * 10.0) as u64,
            throughput,
            latency: Latency {
                count: (throughput * 10.0) as u64,
                p99_us,
                p999_us,
                curve,
                ..Latency::default()
            },
            errors: BTreeMap::new(),
            memory: Some(Memory {
                samples: 10,
                median_kib: rss_kib,
                max_kib: rss_kib,
            }),
            extra: BTreeMap::new(),
        },
    }
}

/// Three rounds of set-64x1 and one of a sweep, open loop and get-64x16.
fn sample_runs() -> Vec<CaseRun> {
    let mut runs = vec![
        // Medians: Corral 150k (of 100k, 150k, 400k), ZooKeeper 50k → 3×.
        run("set-64x1", "corral", 1, (100_000.0, 1000, 2000, 40_960)),
        run("set-64x1", "zookeeper", 1, (40_000.0, 4000, 9000, 409_600)),
        run("set-64x1", "corral", 2, (150_000.0, 1200, 2400, 51_200)),
        run(
            "set-64x1",
            "zookeeper",
            2,
            (50_000.0, 5000, 10_000, 512_000),
        ),
        run("set-64x1", "corral", 3, (400_000.0, 800, 1600, 61_440)),
        run(
            "set-64x1",
            "zookeeper",
            3,
            (60_000.0, 6000, 11_000, 614_400),
        ),
        run(OPEN_LOOP_CASE, "corral", 1, (32_000.0, 500, 1000, 40_960)),
        run(
            OPEN_LOOP_CASE,
            "zookeeper",
            1,
            (32_000.0, 2000, 5000, 409_600),
        ),
        run("get-64x16", "corral", 1, (300_000.0, 900, 1900, 40_960)),
        // Without fsync: 187.5k, so durability keeps 150k / 187.5k = 0.8 of it.
        run(NO_FSYNC_CASE, "corral", 1, (187_500.0, 700, 1400, 40_960)),
    ];
    for (clients, corral, zookeeper) in [(1, 5000.0, 3000.0), (16, 60_000.0, 30_000.0)] {
        let case = format!("set-{clients}x1");
        runs.push(run(&case, "corral", 1, (corral, 500, 900, 30_720)));
        runs.push(run(&case, "zookeeper", 1, (zookeeper, 900, 1900, 300_000)));
    }
    runs
}

fn tree() -> Vec<TreeMeasure> {
    let measure = |target: &str, rss_kib, restart_ms, without, with| TreeMeasure {
        target: target.to_string(),
        round: 1,
        nodes: 1_000_000,
        value_bytes: 100,
        populate_rate: 50_000.0,
        rss_loaded_kib: rss_kib,
        restart_after_kill_ms: restart_ms,
        restart_after_term_ms: restart_ms,
        rss_restarted_kib: rss_kib,
        set_without_snapshots: without,
        set_with_snapshots: with,
    };
    vec![
        measure("corral", 200 * 1024, 500.0, 60_000.0, 57_000.0),
        measure("zookeeper", 1600 * 1024, 10_000.0, 40_000.0, 30_000.0),
    ]
}

fn close(actual: Option<f64>, expected: f64) -> bool {
    actual.is_some_and(|value| (value - expected).abs() < 1e-9)
}

#[test]
fn ratios_are_corral_over_zookeeper_of_the_medians() {
    let summary = report::summarize(&sample_runs(), &tree());
    let set = summary.cases.iter().find(|c| c.case == "set-64x1");
    let Some(set) = set else {
        panic!("no set-64x1 row in {:?}", summary.cases);
    };
    assert_eq!(set.corral.as_ref().map(|f| f.runs), Some(3));
    assert_eq!(set.corral.as_ref().map(|f| f.throughput), Some(150_000.0));
    assert_eq!(set.zookeeper.as_ref().map(|f| f.throughput), Some(50_000.0));
    assert!(close(set.throughput_ratio, 3.0), "{set:?}");
    assert!(close(set.p99_ratio, 1000.0 / 5000.0), "{set:?}");
    assert!(close(set.p999_ratio, 2000.0 / 10_000.0), "{set:?}");
    assert!(close(set.rss_ratio, 0.1), "{set:?}");
    // A case one server lacks has figures for the other and no ratio.
    let get = summary.cases.iter().find(|c| c.case == "get-64x16");
    assert!(get.is_some_and(|g| g.zookeeper.is_none() && g.throughput_ratio.is_none()));
}

#[test]
fn target_checks_follow_issue_six() {
    let summary = report::summarize(&sample_runs(), &tree());
    let check = |prefix: &str| {
        summary
            .targets
            .iter()
            .find(|t| t.measure.starts_with(prefix))
            .cloned()
            .unwrap_or_else(|| panic!("no check {prefix} in {:?}", summary.targets))
    };
    let set = check("set-64x1 throughput");
    assert!(close(set.ratio, 3.0));
    assert_eq!((set.required.as_str(), set.met), ("≥ 3×", Some(true)));
    let p99 = check("write p99,");
    assert!(close(p99.ratio, 0.25));
    assert_eq!(p99.met, Some(true));
    let p999 = check("write p99.9");
    assert!(close(p999.ratio, 0.2));
    let rss = check("RSS holding 1000000");
    assert!(close(rss.ratio, 0.125));
    assert_eq!(rss.met, Some(true));
    let restart = check("restart to serving");
    assert!(close(restart.ratio, 0.05));
    let snapshots = check("Corral set throughput during snapshots");
    assert!(close(snapshots.ratio, 0.95));
    let fsync = check("Corral set-64x1 with fsync / without");
    assert!(close(fsync.ratio, 0.8));
    assert_eq!((fsync.required.as_str(), fsync.met), ("≥ 0.8", Some(true)));
    let create = check("create-256x1 throughput");
    assert_eq!((create.ratio, create.met), (None, None));
    assert_eq!(create.note, "not measured in this run");
}

#[test]
fn markdown_tables_carry_the_figures() {
    let summary = report::summarize(&sample_runs(), &tree());
    let markdown = report::markdown(&summary);
    assert!(
        markdown.contains("| set-64x1 | 150,000 | 50,000 | 3.00× | 1.00 | 5.00 | 0.20× |"),
        "{markdown}"
    );
    assert!(
        markdown.contains(
            "| corral | 1,000,000 | 50,000 | 200 | 500 | 500 | 200 | 60,000 | 57,000 | 0.95 |"
        ),
        "{markdown}"
    );
    assert_eq!(report::thousands(1234567.8), "1,234,568");
    assert_eq!(report::thousands(999.0), "999");
}

#[test]
fn the_html_report_is_self_contained_with_a_plot_per_case_and_sweep() {
    let runs = sample_runs();
    let summary = report::summarize(&runs, &tree());
    let facts: BTreeMap<String, String> = [("cpu".to_string(), "a <fast> one".to_string())].into();
    let notes = vec!["FAILED: something & more".to_string()];
    let context = report::PageContext {
        title: "test report",
        facts: &facts,
        notes: &notes,
    };
    let html = report::html(&context, &runs, &summary).unwrap_or_else(|e| panic!("{e}"));
    // Kept for a look with a browser after a failure.
    std::fs::write(
        std::env::temp_dir().join("corral-compare-report-test.html"),
        &html,
    )
    .ok();
    // Six cases, one latency plot each, and one sweep (set at 1, 16 and 64 clients).
    assert_eq!(html.matches("<svg").count(), 7, "{html}");
    assert_eq!(html.matches("</svg>").count(), 7);
    assert!(html.contains("set: throughput vs clients (1 in flight each)"));
    assert!(html.contains("set-64x1: latency by percentile"));
    // The percentile axis is labelled as HdrHistogram's plots are.
    let texts: Vec<&str> = html
        .split("<text")
        .skip(1)
        .filter_map(|tail| tail.split_once('>'))
        .filter_map(|(_, rest)| rest.split_once("</text>"))
        .map(|(text, _)| text.trim())
        .collect();
    for label in ["0%", "90%", "99%", "99.9%", "99.99%", "Corral", "ZooKeeper"] {
        assert!(texts.contains(&label), "no {label} label in {texts:?}");
    }
    assert!(html.contains("a &lt;fast&gt; one") && html.contains("something &amp; more"));
    assert!(!html.contains("http://") || !html.contains("src=\"http"));
    assert!(!html.contains("<script") && !html.contains("<link"));
    // The ratio table comes before the plots.
    let table = html.find("<td>3.00×</td>");
    assert!(table.is_some_and(|at| Some(at) < html.find("<svg")));
}

#[test]
fn percentile_axis_points_and_labels() {
    use report::plots::{curve_points, percentile_label};
    assert_eq!(percentile_label(0.0), "0%");
    assert_eq!(percentile_label(1.0), "90%");
    assert_eq!(percentile_label(2.0), "99%");
    assert_eq!(percentile_label(3.0), "99.9%");
    assert_eq!(percentile_label(5.0), "99.999%");
    let runs = sample_runs();
    let points = curve_points(&runs[0].result);
    // The 100th percentile has no place on a 1/(1-p) axis and is left out.
    assert_eq!(points.len(), 6);
    assert!((points[3].0 - 2.0).abs() < 1e-9 && (points[3].1 - 1.0).abs() < 1e-9);
    assert!((points[4].0 - 3.0).abs() < 1e-9 && (points[4].1 - 2.0).abs() < 1e-9);
}

#[test]
fn sweeps_take_the_plain_closed_loop_cases_by_client_count() {
    let series = report::plots::scaling_series(&sample_runs());
    assert_eq!(series.len(), 1, "{series:?}");
    let corral = series[0].points.get(&corral_bench::servers::Target::Corral);
    assert_eq!(
        corral.cloned(),
        Some(vec![(1, 5000.0), (16, 60_000.0), (64, 150_000.0)])
    );
}
