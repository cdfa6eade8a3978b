//! What a comparison measured, summarised: medians over rounds, Corral/ZooKeeper ratios, the
//! checks against issue 6's targets, and the same as a Markdown table and as one self-contained
//! HTML page with plots (inline SVG drawn by plotters; no external assets).
//!
//! - `plots`: the SVG plots (latency percentiles on a log percentile axis, throughput versus
//!   client count).

pub mod plots;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::results::RunResult;
use crate::servers::Target;
use crate::Error;

/// One run of one case (a workload at one setting) in one round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseRun {
    /// The case's id, e.g. `set-64x1`.
    pub case: String,
    /// Rounds count from 1.
    pub round: u32,
    pub result: RunResult,
}

/// What the large-tree measures found on one server in one round.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TreeMeasure {
    pub target: String,
    pub round: u32,
    pub nodes: u64,
    pub value_bytes: u32,
    /// Creates per second while populating (eight sessions, 256 in flight each).
    pub populate_rate: f64,
    /// RSS a few seconds after the population finished.
    pub rss_loaded_kib: u64,
    /// From just before the start until a `getData` of the last node created succeeded,
    /// after SIGKILL (a crash).
    pub restart_after_kill_ms: f64,
    /// The same after SIGTERM (a graceful stop).
    pub restart_after_term_ms: f64,
    /// RSS a few seconds after the restart from the crash.
    pub rss_restarted_kib: u64,
    /// `set` throughput with the tree loaded and no snapshot due (snapCount = 10⁹).
    pub set_without_snapshots: f64,
    /// `set` throughput with snapshots written back to back (snapCount = 1000).
    pub set_with_snapshots: f64,
}

/// Medians over the rounds of one case on one server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub runs: u32,
    pub throughput: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    /// Median over the rounds of each run's median RSS.
    pub rss_kib: Option<f64>,
    /// Failed operations over all rounds.
    pub errors: u64,
}

/// One row of the ratio table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CaseSummary {
    pub case: String,
    pub corral: Option<Figures>,
    pub zookeeper: Option<Figures>,
    /// Corral / ZooKeeper of the medians.
    pub throughput_ratio: Option<f64>,
    pub p99_ratio: Option<f64>,
    pub p999_ratio: Option<f64>,
    pub rss_ratio: Option<f64>,
}

/// Medians of the large-tree measures on one server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TreeFigures {
    pub target: String,
    pub rounds: u32,
    pub nodes: u64,
    pub populate_rate: f64,
    pub rss_loaded_kib: f64,
    pub restart_after_kill_ms: f64,
    pub restart_after_term_ms: f64,
    pub rss_restarted_kib: f64,
    pub set_without_snapshots: f64,
    pub set_with_snapshots: f64,
    /// `set_with_snapshots / set_without_snapshots`.
    pub snapshot_ratio: Option<f64>,
}

/// One of issue 6's targets and where this comparison stands against it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetCheck {
    pub measure: String,
    /// The ratio required, as the issue writes it (`≥ 3×`, `≤ 1/3`).
    pub required: String,
    pub ratio: Option<f64>,
    /// `None` when not measured.
    pub met: Option<bool>,
    pub note: String,
}

/// Everything the tables show.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub cases: Vec<CaseSummary>,
    pub tree: Vec<TreeFigures>,
    pub targets: Vec<TargetCheck>,
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(match values.len() % 2 {
        1 => values[middle],
        _ => (values[middle - 1] + values[middle]) / 2.0,
    })
}

/// `numerator / denominator` when both are known and the denominator is positive.
pub fn ratio(numerator: Option<f64>, denominator: Option<f64>) -> Option<f64> {
    match (numerator, denominator) {
        (Some(n), Some(d)) if d > 0.0 && n.is_finite() => Some(n / d),
        _ => None,
    }
}

fn figures(runs: &[&RunResult]) -> Option<Figures> {
    if runs.is_empty() {
        return None;
    }
    let rss = median(
        runs.iter()
            .filter_map(|run| run.memory.as_ref())
            .map(|memory| memory.median_kib as f64),
    );
    Some(Figures {
        runs: runs.len() as u32,
        throughput: median(runs.iter().map(|run| run.throughput)).unwrap_or(0.0),
        p99_us: median(runs.iter().map(|run| run.latency.p99_us as f64)).unwrap_or(0.0),
        p999_us: median(runs.iter().map(|run| run.latency.p999_us as f64)).unwrap_or(0.0),
        rss_kib: rss,
        errors: runs.iter().flat_map(|run| run.errors.values()).sum(),
    })
}

/// The runs of `case` on `target`, in round order.
pub fn runs_of<'a>(runs: &'a [CaseRun], case: &str, target: Target) -> Vec<&'a RunResult> {
    runs.iter()
        .filter(|run| run.case == case && run.result.target == target.name())
        .map(|run| &run.result)
        .collect()
}

/// Case ids in the order they first appear.
pub fn case_order(runs: &[CaseRun]) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for run in runs {
        if !order.contains(&run.case) {
            order.push(run.case.clone());
        }
    }
    order
}

/// Medians, ratios and target checks of a comparison.
pub fn summarize(runs: &[CaseRun], tree: &[TreeMeasure]) -> Summary {
    let cases: Vec<CaseSummary> = case_order(runs)
        .into_iter()
        .map(|case| {
            let corral = figures(&runs_of(runs, &case, Target::Corral));
            let zookeeper = figures(&runs_of(runs, &case, Target::ZooKeeper));
            let of = |pick: fn(&Figures) -> Option<f64>| {
                ratio(
                    corral.as_ref().and_then(pick),
                    zookeeper.as_ref().and_then(pick),
                )
            };
            CaseSummary {
                throughput_ratio: of(|f| Some(f.throughput)),
                p99_ratio: of(|f| Some(f.p99_us)),
                p999_ratio: of(|f| Some(f.p999_us)),
                rss_ratio: of(|f| f.rss_kib),
                case,
                corral,
                zookeeper,
            }
        })
        .collect();
    let tree: Vec<TreeFigures> = Target::ALL
        .iter()
        .filter_map(|&target| tree_figures(tree, target))
        .collect();
    let targets = target_checks(&cases, &tree);
    Summary {
        cases,
        tree,
        targets,
    }
}

fn tree_figures(measures: &[TreeMeasure], target: Target) -> Option<TreeFigures> {
    let mine: Vec<&TreeMeasure> = measures
        .iter()
        .filter(|m| m.target == target.name())
        .collect();
    let first = mine.first()?;
    let of = |pick: fn(&TreeMeasure) -> f64| median(mine.iter().map(|m| pick(m))).unwrap_or(0.0);
    let without = of(|m| m.set_without_snapshots);
    let with = of(|m| m.set_with_snapshots);
    Some(TreeFigures {
        target: target.name().to_string(),
        rounds: mine.len() as u32,
        nodes: first.nodes,
        populate_rate: of(|m| m.populate_rate),
        rss_loaded_kib: of(|m| m.rss_loaded_kib as f64),
        restart_after_kill_ms: of(|m| m.restart_after_kill_ms),
        restart_after_term_ms: of(|m| m.restart_after_term_ms),
        rss_restarted_kib: of(|m| m.rss_restarted_kib as f64),
        set_without_snapshots: without,
        set_with_snapshots: with,
        snapshot_ratio: ratio(Some(with), Some(without)),
    })
}

/// A check that the ratio is at least `bound` (`at_least`) or at most `bound`.
fn check(
    measure: String,
    required: &str,
    ratio: Option<f64>,
    bound: f64,
    at_least: bool,
) -> TargetCheck {
    TargetCheck {
        measure,
        required: required.to_string(),
        ratio,
        met: ratio.map(|r| if at_least { r >= bound } else { r <= bound }),
        note: String::new(),
    }
}

fn target_checks(cases: &[CaseSummary], tree: &[TreeFigures]) -> Vec<TargetCheck> {
    let case = |id: &str| cases.iter().find(|c| c.case == id);
    let mut checks = Vec::new();
    let throughput = [
        ("set-64x1", "≥ 3×", 3.0),
        ("set-256x1", "≥ 3×", 3.0),
        ("create-64x1", "≥ 3×", 3.0),
        ("create-256x1", "≥ 3×", 3.0),
        ("set-64x16", "≥ 3×", 3.0),
        ("get-64x1", "≥ 2×", 2.0),
        ("get-64x16", "≥ 2×", 2.0),
    ];
    for (id, required, bound) in throughput {
        let ratio = case(id).and_then(|c| c.throughput_ratio);
        checks.push(check(
            format!("{id} throughput"),
            required,
            ratio,
            bound,
            true,
        ));
    }
    let open = case(OPEN_LOOP_CASE);
    for (name, ratio) in [
        ("p99", open.and_then(|c| c.p99_ratio)),
        ("p99.9", open.and_then(|c| c.p999_ratio)),
    ] {
        let measure = format!("write {name}, open loop at 80% of ZooKeeper's peak");
        checks.push(check(measure, "≤ 1/3", ratio, 1.0 / 3.0, false));
    }
    let corral_throughput = |id: &str| {
        case(id)
            .and_then(|c| c.corral.as_ref())
            .map(|f| f.throughput)
    };
    let durability = ratio(
        corral_throughput("set-64x1"),
        corral_throughput(NO_FSYNC_CASE),
    );
    let mut durability_check = check(
        "Corral set-64x1 with fsync / without (forceSync=no)".into(),
        "≥ 0.8",
        durability,
        0.8,
        true,
    );
    if durability.is_some() {
        durability_check.note = "Corral against itself, not a ratio to ZooKeeper".into();
    }
    checks.push(durability_check);
    let tree_of = |target: Target| tree.iter().find(|t| t.target == target.name());
    let (corral, zookeeper) = (tree_of(Target::Corral), tree_of(Target::ZooKeeper));
    let nodes = corral.or(zookeeper).map_or(0, |t| t.nodes);
    let rss = ratio(
        corral.map(|t| t.rss_loaded_kib),
        zookeeper.map(|t| t.rss_loaded_kib),
    );
    let restart = ratio(
        corral.map(|t| t.restart_after_kill_ms),
        zookeeper.map(|t| t.restart_after_kill_ms),
    );
    checks.push(check(
        format!("RSS holding {nodes} znodes"),
        "≤ 1/8",
        rss,
        1.0 / 8.0,
        false,
    ));
    checks.push(check(
        format!("restart to serving with {nodes} znodes (after SIGKILL)"),
        "≤ 1/5",
        restart,
        1.0 / 5.0,
        false,
    ));
    let snapshots = corral.and_then(|t| t.snapshot_ratio);
    let mut snapshot_check = check(
        "Corral set throughput during snapshots / without".into(),
        "≥ 0.9",
        snapshots,
        0.9,
        true,
    );
    snapshot_check.note = "issue 4's target, not a ratio to ZooKeeper".into();
    checks.push(snapshot_check);
    for check in &mut checks {
        if check.met.is_none() && check.note.is_empty() {
            check.note = "not measured in this run".into();
        }
    }
    checks
}

/// The case id of `set-64x1` on Corral with `forceSync=no` (the cost of durability).
pub const NO_FSYNC_CASE: &str = "set-64x1-no-fsync";

/// The case id of the open-loop write latency measure.
pub const OPEN_LOOP_CASE: &str = "set-open-loop";

/// `1234567.8` as `1,234,568`.
pub fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    let digits = format!("{:.0}", value.abs());
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if value < 0.0 && digits != "0" {
        grouped.insert(0, '-');
    }
    grouped
}

fn optional(value: Option<f64>, format: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "–".to_string(), format)
}

fn ms(us: f64) -> String {
    format!("{:.2}", us / 1000.0)
}

fn mib(kib: f64) -> String {
    format!("{:.0}", kib / 1024.0)
}

fn times(ratio: f64) -> String {
    format!("{ratio:.2}×")
}

/// The header and rows of the per-case ratio table, as plain cells.
pub fn case_table(summary: &Summary) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "case",
        "Corral ops/s",
        "ZooKeeper ops/s",
        "ratio",
        "Corral p99 ms",
        "ZooKeeper p99 ms",
        "ratio",
        "Corral p99.9 ms",
        "ZooKeeper p99.9 ms",
        "ratio",
        "Corral RSS MiB",
        "ZooKeeper RSS MiB",
        "ratio",
    ];
    let rows = summary
        .cases
        .iter()
        .map(|case| {
            let of =
                |f: &Option<Figures>, pick: fn(&Figures) -> Option<f64>| f.as_ref().and_then(pick);
            let (c, z) = (&case.corral, &case.zookeeper);
            let mut row = vec![case.case.clone()];
            row.push(optional(of(c, |f| Some(f.throughput)), thousands));
            row.push(optional(of(z, |f| Some(f.throughput)), thousands));
            row.push(optional(case.throughput_ratio, times));
            row.push(optional(of(c, |f| Some(f.p99_us)), ms));
            row.push(optional(of(z, |f| Some(f.p99_us)), ms));
            row.push(optional(case.p99_ratio, times));
            row.push(optional(of(c, |f| Some(f.p999_us)), ms));
            row.push(optional(of(z, |f| Some(f.p999_us)), ms));
            row.push(optional(case.p999_ratio, times));
            row.push(optional(of(c, |f| f.rss_kib), mib));
            row.push(optional(of(z, |f| f.rss_kib), mib));
            row.push(optional(case.rss_ratio, times));
            row
        })
        .collect();
    (header, rows)
}

/// The header and rows of the large-tree table.
pub fn tree_table(summary: &Summary) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "server",
        "znodes",
        "populate creates/s",
        "RSS loaded MiB",
        "restart after SIGKILL ms",
        "restart after SIGTERM ms",
        "RSS restarted MiB",
        "set/s no snapshots",
        "set/s snapshots back to back",
        "ratio",
    ];
    let rows = summary
        .tree
        .iter()
        .map(|t| {
            vec![
                t.target.clone(),
                thousands(t.nodes as f64),
                thousands(t.populate_rate),
                mib(t.rss_loaded_kib),
                format!("{:.0}", t.restart_after_kill_ms),
                format!("{:.0}", t.restart_after_term_ms),
                mib(t.rss_restarted_kib),
                thousands(t.set_without_snapshots),
                thousands(t.set_with_snapshots),
                optional(t.snapshot_ratio, |r| format!("{r:.2}")),
            ]
        })
        .collect();
    (header, rows)
}

/// The header and rows of the issue 6 target table.
pub fn target_table(summary: &Summary) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "measure (Corral / ZooKeeper)",
        "required",
        "measured",
        "met",
        "note",
    ];
    let rows = summary
        .targets
        .iter()
        .map(|t| {
            vec![
                t.measure.clone(),
                t.required.clone(),
                optional(t.ratio, |r| format!("{r:.2}")),
                match t.met {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None => "–".into(),
                },
                t.note.clone(),
            ]
        })
        .collect();
    (header, rows)
}

fn markdown_table(out: &mut String, (header, rows): (Vec<&'static str>, Vec<Vec<String>>)) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
}

/// The tables as Markdown: targets, then every case, then the large-tree measures.
pub fn markdown(summary: &Summary) -> String {
    let mut out = String::new();
    out.push_str("### Issue 6 targets\n\n");
    markdown_table(&mut out, target_table(summary));
    out.push_str("\n### Every case (medians over rounds; ratio = Corral / ZooKeeper)\n\n");
    markdown_table(&mut out, case_table(summary));
    if !summary.tree.is_empty() {
        out.push_str("\n### Large tree: memory, restart, snapshots\n\n");
        markdown_table(&mut out, tree_table(summary));
    }
    out
}

/// `text` with the characters HTML gives meaning to escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(character),
        }
    }
    out
}

fn html_table(out: &mut String, (header, rows): (Vec<&'static str>, Vec<Vec<String>>)) {
    out.push_str("<table>\n<tr>");
    for cell in header {
        let _ = write!(out, "<th>{}</th>", escape(cell));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape(&cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// What the HTML page shows besides the runs: a title, `key → value` facts about the machine
/// and the command, and notes (failures, skipped measures).
pub struct PageContext<'a> {
    pub title: &'a str,
    pub facts: &'a BTreeMap<String, String>,
    pub notes: &'a [String],
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:1200px}\
table{border-collapse:collapse;margin:1em 0;font-size:13px}\
td,th{border:1px solid #bbb;padding:3px 6px;text-align:right}\
td:first-child,th:first-child{text-align:left}\
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots div{flex:0 0 auto}";

/// The whole report: the tables at the top, then throughput versus client count, then one
/// latency percentile plot per case, both servers on each.
pub fn html(
    context: &PageContext<'_>,
    runs: &[CaseRun],
    summary: &Summary,
) -> Result<String, Error> {
    let mut out = String::new();
    let title = escape(context.title);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n"
    );
    out.push_str("<h2>Issue 6 targets</h2>\n");
    html_table(&mut out, target_table(summary));
    out.push_str("<h2>Every case (medians over rounds; ratio = Corral / ZooKeeper)</h2>\n");
    html_table(&mut out, case_table(summary));
    if !summary.tree.is_empty() {
        out.push_str("<h2>Large tree: memory, restart, snapshots</h2>\n");
        html_table(&mut out, tree_table(summary));
    }
    if !context.notes.is_empty() {
        out.push_str("<h2>Notes</h2>\n<ul>\n");
        for note in context.notes {
            let _ = writeln!(out, "<li>{}</li>", escape(note));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h2>Throughput versus clients</h2>\n<div class=\"plots\">\n");
    for series in plots::scaling_series(runs) {
        let _ = writeln!(out, "<div>{}</div>", plots::scaling_svg(&series)?);
    }
    out.push_str("</div>\n<h2>Latency by percentile</h2>\n<div class=\"plots\">\n");
    for case in case_order(runs) {
        let _ = writeln!(out, "<div>{}</div>", plots::latency_svg(runs, &case)?);
    }
    out.push_str("</div>\n<h2>Machine and command</h2>\n<table>\n");
    for (key, value) in context.facts {
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(key),
            escape(value)
        );
    }
    out.push_str("</table>\n</body></html>\n");
    Ok(out)
}
