//! A self-contained HTML picture of a history: one row per client, one bar
//! per operation from its call to its return, labelled with the operation
//! where the label fits (cut at the bar's end; a tooltip holds all of it),
//! a call that never returned drawn dashed to the end; and for a partition
//! that is not linearizable, its longest linearizable prefix (each bar
//! numbered with its step) and the operation that could not be placed after
//! it, scrolled into view when the page opens. Above the clients, one row
//! per kind of [`HarnessEvent`]: what the test did meanwhile (partitions,
//! crashes and restarts, configuration changes, checks), on the history's
//! clock, each with a line down through the clients' rows.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::{Model, Operation, PartitionOutcome, Report};

const ROW_HEIGHT: usize = 28;
const BAR_HEIGHT: usize = 20;
/// The width of the column of client names.
const LEFT: usize = 80;
/// The width a short timeline's bars fill, beside the names: the page fits
/// a window 1,050 pixels wide.
const WIDTH: usize = 900;

/// Something the test harness did while the clients ran, at a time on the
/// history's clock (the test's: nanoseconds since it began), to draw beside
/// the operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HarnessEvent {
    /// When, on the clock of the operations' calls and returns.
    pub at: u64,
    /// Which row it is drawn in.
    pub kind: EventKind,
    /// What happened, as the log line says it.
    pub text: String,
}

/// The kinds of [`HarnessEvent`], one row of the timeline each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    /// The test's title, its phases, anything not below.
    Test,
    /// Partitions, links, the network's reliability, clients cut off and
    /// reconnected.
    Network,
    /// Servers and groups shut down, restarted, made and forgotten.
    Servers,
    /// Configuration changes of the sharded service.
    Configuration,
    /// Linearizability checks and their verdicts.
    Checker,
}

impl EventKind {
    /// The row's name.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Test => "test",
            EventKind::Network => "network",
            EventKind::Servers => "servers",
            EventKind::Configuration => "config",
            EventKind::Checker => "checker",
        }
    }

    fn class(self) -> &'static str {
        match self {
            EventKind::Test => "ev-test",
            EventKind::Network => "ev-network",
            EventKind::Servers => "ev-servers",
            EventKind::Configuration => "ev-config",
            EventKind::Checker => "ev-checker",
        }
    }
}

/// How an operation is drawn.
#[derive(Clone, Copy)]
enum Mark {
    /// In the failing partition's longest linearizable prefix, at this step.
    Prefix(usize),
    /// The operation that could not be placed.
    Unplaced,
    /// In the failing partition, not placed by the search.
    Failing,
    /// Anywhere else.
    Other,
}

impl Mark {
    fn class(self) -> &'static str {
        match self {
            Mark::Prefix(_) => "prefix",
            Mark::Unplaced => "unplaced",
            Mark::Failing => "failing",
            Mark::Other => "other",
        }
    }
}

/// The page for `history` and its `report`, with what the harness did
/// meanwhile (`events`, on the history's clock; none for a history read
/// back from text).
pub fn render<M: Model>(
    model: &M,
    history: &[Operation<M>],
    events: &[HarnessEvent],
    report: &Report,
    title: &str,
) -> String {
    // Operations of the first illegal partition are marked.
    let mut marks = vec![Mark::Other; history.len()];
    let failing = report
        .partitions
        .iter()
        .find(|p| matches!(p.outcome, PartitionOutcome::Illegal { .. }));
    if let Some(failing) = failing {
        for &i in &failing.operations {
            marks[i] = Mark::Failing;
        }
        if let PartitionOutcome::Illegal { prefix, unplaced } = &failing.outcome {
            for (step, &i) in prefix.iter().enumerate() {
                marks[i] = Mark::Prefix(step + 1);
            }
            marks[*unplaced] = Mark::Unplaced;
        }
    }

    let all: Vec<usize> = (0..history.len()).collect();
    let timelines = match failing {
        // The failing partition on its own first, where its operations are
        // wide enough to read; the whole history folded below it.
        Some(failing) => format!(
            r#"<h2>{} ({} operations)</h2>
<div class="timeline" id="failing">{}</div>
<details><summary>The whole history ({} operations)</summary>
<div class="timeline">{}</div>
</details>"#,
            escape(&failing.name),
            failing.operations.len(),
            timeline(model, history, &failing.operations, &marks, events),
            history.len(),
            timeline(model, history, &all, &marks, events),
        ),
        None => format!(
            r#"<div class="timeline">{}</div>"#,
            timeline(model, history, &all, &marks, events)
        ),
    };
    let event_list = event_list(events);

    let text = report.describe(model, history);
    format!(
        r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5em; }}
h1 {{ font-size: 1.4em; overflow-wrap: anywhere; }}
h2 {{ font-size: 1.1em; overflow-wrap: anywhere; }}
.timeline {{ display: flex; border: 1px solid #ccc; padding: 4px; margin-bottom: 1em; }}
.names {{ flex: none; }}
.bars {{ overflow-x: auto; }}
rect {{ stroke: #333; stroke-width: 0.5; }}
.other rect {{ fill: #d9d9d9; }}
.failing rect {{ fill: #f4b183; }}
.prefix rect {{ fill: #8fd18f; }}
.unplaced rect {{ fill: #e05050; }}
.pending rect {{ stroke-dasharray: 4 3; stroke-width: 1.2; fill-opacity: 0.55; }}
.label {{ font: 10px ui-monospace, monospace; pointer-events: none; }}
.step {{ font-weight: bold; }}
.client {{ font-size: 12px; }}
.legend span {{ display: inline-block; padding: 1px 8px; margin: 0 8px 4px 0; border: 1px solid #333; }}
.kind {{ font-size: 12px; font-style: italic; }}
.event rect {{ stroke: none; }}
.event line {{ stroke-width: 1; stroke-dasharray: 2 3; stroke-opacity: 0.6; }}
.ev-test rect {{ fill: #7f7f7f; }} .ev-test line {{ stroke: #7f7f7f; }}
.ev-network rect {{ fill: #4472c4; }} .ev-network line {{ stroke: #4472c4; }}
.ev-servers rect {{ fill: #c00000; }} .ev-servers line {{ stroke: #c00000; }}
.ev-config rect {{ fill: #7030a0; }} .ev-config line {{ stroke: #7030a0; }}
.ev-checker rect {{ fill: #2e7d32; }} .ev-checker line {{ stroke: #2e7d32; }}
table.events td {{ padding: 0 1em 0 0; font: 12px ui-monospace, monospace; }}
pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; }}
</style></head><body>
<h1>{title}</h1>
<p class="legend"><span style="background:#8fd18f">longest linearizable prefix (numbered in order)</span><span style="background:#e05050">could not be placed</span><span style="background:#f4b183">rest of the failing partition</span><span style="background:#d9d9d9">other operations</span><span style="border-style:dashed">never returned (runs to the end)</span></p>
<p>One row per client; time runs left to right, each call, return and harness event one step (evenly spaced, in order). A bar's label is cut where the bar ends: hover over it for the whole operation. The rows above the clients show what the test did meanwhile, each event with a dotted line down through the clients.</p>
{timelines}
<pre>{}</pre>
{event_list}
<script>
// Bring the operation that could not be placed into view.
const unplaced = document.querySelector("#failing .unplaced");
if (unplaced) unplaced.scrollIntoView({{ block: "nearest", inline: "center" }});
</script>
</body></html>
"##,
        escape(&text),
        title = escape(title)
    )
}

/// The timeline of the operations `shown` (indices into `history`) and of
/// `events`: a column of row names, and beside it the bars, which scroll.
fn timeline<M: Model>(
    model: &M,
    history: &[Operation<M>],
    shown: &[usize],
    marks: &[Mark],
    events: &[HarnessEvent],
) -> String {
    // Times are spread evenly by rank, so that bursts stay readable.
    let mut times: Vec<u64> = shown
        .iter()
        .flat_map(|&i| [history[i].call, history[i].ret])
        .chain(events.iter().map(|e| e.at))
        .filter(|&t| t != u64::MAX)
        .collect();
    times.sort_unstable();
    times.dedup();
    let end = times.len() + 1;
    let rank = |t: u64| {
        if t == u64::MAX {
            end
        } else {
            times.partition_point(|&x| x < t)
        }
    };
    // Wide enough to fill a window for a short history; for a long one,
    // as narrow as a bar can be with a step number inside (its box
    // scrolls).
    let scale = (WIDTH / (end + 1)).clamp(20, 120);

    // The events' rows first, one per kind present, then the clients'.
    let kinds: BTreeSet<EventKind> = events.iter().map(|e| e.kind).collect();
    let kind_rows: BTreeMap<EventKind, usize> = kinds
        .into_iter()
        .enumerate()
        .map(|(row, kind)| (kind, row))
        .collect();
    let clients: BTreeSet<usize> = shown.iter().map(|&i| history[i].client).collect();
    let rows: BTreeMap<usize, usize> = clients
        .into_iter()
        .enumerate()
        .map(|(row, client)| (client, kind_rows.len() + row))
        .collect();
    let width = (end + 1) * scale;
    let height = (kind_rows.len() + rows.len()) * ROW_HEIGHT + 10;

    let mut names = format!(
        r#"<svg class="names" xmlns="http://www.w3.org/2000/svg" width="{LEFT}" height="{height}">"#
    );
    for (kind, row) in &kind_rows {
        let y = row * ROW_HEIGHT + BAR_HEIGHT / 2 + 8;
        let _ = write!(
            names,
            r#"<text x="4" y="{y}" class="kind">{}</text>"#,
            kind.name()
        );
    }
    for (client, row) in &rows {
        let y = row * ROW_HEIGHT + BAR_HEIGHT / 2 + 8;
        let _ = write!(
            names,
            r#"<text x="4" y="{y}" class="client">client {client}</text>"#
        );
    }
    names.push_str("</svg>");

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">"#
    );
    for (n, event) in events.iter().enumerate() {
        let row = kind_rows[&event.kind];
        let x = rank(event.at) * scale;
        let y = row * ROW_HEIGHT + 4;
        // The label runs to the next event of its row.
        let next = events[n + 1..]
            .iter()
            .find(|e| e.kind == event.kind)
            .map_or(width, |e| rank(e.at) * scale);
        let room = next.saturating_sub(x).max(4);
        let _ = write!(
            svg,
            r#"<g class="event {}"><title>{}</title><line x1="{x}" y1="{}" x2="{x}" y2="{height}"/><rect x="{x}" y="{y}" width="4" height="{BAR_HEIGHT}"/>"#,
            event.kind.class(),
            escape(&format!(
                "{}, at {}: {}",
                event.kind.name(),
                event.at,
                event.text
            )),
            y + BAR_HEIGHT,
        );
        let _ = write!(
            svg,
            r#"<svg x="{}" y="{y}" width="{}" height="{BAR_HEIGHT}"><text x="2" y="14" class="label">{}</text></svg></g>"#,
            x + 4,
            room - 4,
            escape(&fit(&event.text, room - 4, 0))
        );
    }
    for &i in shown {
        let op = &history[i];
        let row = rows[&op.client];
        let pending = op.ret == u64::MAX;
        let x = rank(op.call) * scale;
        let w = ((rank(op.ret) - rank(op.call)) * scale).max(3);
        let y = row * ROW_HEIGHT + 4;
        let mark = marks[i];
        let description = model.describe_operation(&op.input, &op.output);
        let returned = if pending {
            "never returned".to_owned()
        } else {
            format!("returned at {}", op.ret)
        };
        let step = match mark {
            Mark::Prefix(n) => format!("step {n} of the longest linearizable prefix; "),
            Mark::Unplaced => "could not be placed after the prefix; ".to_owned(),
            Mark::Failing | Mark::Other => String::new(),
        };
        let class = if pending {
            format!("{} pending", mark.class())
        } else {
            mark.class().to_owned()
        };
        let _ = write!(
            svg,
            r#"<g class="{class}"><title>{}</title><rect x="{x}" y="{y}" width="{w}" height="{BAR_HEIGHT}" rx="3"/>"#,
            escape(&format!(
                "client {}: {description}; {step}called at {}, {returned}",
                op.client, op.call
            ))
        );
        // The label, clipped to its bar (an inner <svg> clips what it
        // holds): the step first, then the operation, then for a call that
        // never returned, that it did not.
        let lead = match mark {
            Mark::Prefix(n) => n.to_string(),
            Mark::Unplaced => "✗".to_owned(),
            Mark::Failing | Mark::Other => String::new(),
        };
        let tail = if pending {
            " · never returned →"
        } else {
            ""
        };
        let label = fit(&format!("{description}{tail}"), w, lead.chars().count());
        let lead = if lead.is_empty() {
            lead
        } else {
            format!(r#"<tspan class="step">{lead}</tspan> "#)
        };
        let _ = write!(
            svg,
            r#"<svg x="{x}" y="{y}" width="{w}" height="{BAR_HEIGHT}"><text x="4" y="14" class="label">{lead}{}</text></svg>"#,
            escape(&label)
        );
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    format!(r#"{names}<div class="bars">{svg}</div>"#)
}

/// What the harness did, as a list below the timeline (folded).
fn event_list(events: &[HarnessEvent]) -> String {
    if events.is_empty() {
        return String::new();
    }
    let mut rows = String::new();
    for event in events {
        let _ = write!(
            rows,
            "<tr><td>{:.3}</td><td>{}</td><td>{}</td></tr>",
            event.at as f64 / 1e6,
            event.kind.name(),
            escape(&event.text)
        );
    }
    format!(
        r#"<details><summary>What the harness did ({} events; times in milliseconds since the test began)</summary><table class="events">{rows}</table></details>"#,
        events.len()
    )
}

/// About how wide one character of a label is, in pixels (10 px monospace).
const CHAR_WIDTH: usize = 6;

/// `label` as it fits in a bar `width` pixels wide after a lead of `lead`
/// characters: whole, or cut with an ellipsis, or nothing when not even a
/// few characters fit (the bar's tooltip holds it all).
fn fit(label: &str, width: usize, lead: usize) -> String {
    let room = width.saturating_sub(8) / CHAR_WIDTH;
    let room = room.saturating_sub(if lead > 0 { lead + 1 } else { 0 });
    if label.chars().count() <= room {
        label.to_owned()
    } else if room >= 4 {
        let mut cut: String = label.chars().take(room - 1).collect();
        cut.push('…');
        cut
    } else {
        String::new()
    }
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            c => escaped.push(c),
        }
    }
    escaped
}
