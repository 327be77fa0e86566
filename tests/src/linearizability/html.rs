//! A self-contained HTML picture of a history: one row per client, one bar
//! per operation from its call to its return, labelled with the operation
//! where the label fits (cut at the bar's end; a tooltip holds all of it),
//! a call that never returned drawn dashed to the end; and for a partition
//! that is not linearizable, its longest linearizable prefix (each bar
//! numbered with its step) and the operation that could not be placed after
//! it, scrolled into view when the page opens.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::{Model, Operation, PartitionOutcome, Report};

const ROW_HEIGHT: usize = 28;
const BAR_HEIGHT: usize = 20;
const LEFT: usize = 90;

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

/// The page for `history` and its `report`.
pub fn render<M: Model>(
    model: &M,
    history: &[Operation<M>],
    report: &Report,
    title: &str,
) -> String {
    // Operations of the first illegal partition are marked.
    let mut marks = vec![Mark::Other; history.len()];
    if let Some(failing) = report
        .partitions
        .iter()
        .find(|p| matches!(p.outcome, PartitionOutcome::Illegal { .. }))
    {
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

    // Times are spread evenly by rank, so that bursts stay readable.
    let mut times: Vec<u64> = history
        .iter()
        .flat_map(|op| [op.call, op.ret])
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
    let scale = (1600 / end.max(1)).clamp(12, 64);

    let clients: BTreeSet<usize> = history.iter().map(|op| op.client).collect();
    let rows: BTreeMap<usize, usize> = clients
        .into_iter()
        .enumerate()
        .map(|(row, client)| (client, row))
        .collect();
    let width = LEFT + (end + 1) * scale;
    let height = rows.len() * ROW_HEIGHT + 10;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">"#
    );
    for (client, row) in &rows {
        let y = row * ROW_HEIGHT + BAR_HEIGHT / 2 + 8;
        let _ = write!(
            svg,
            r#"<text x="4" y="{y}" class="client">client {client}</text>"#
        );
    }
    for (i, op) in history.iter().enumerate() {
        let row = rows[&op.client];
        let pending = op.ret == u64::MAX;
        let x = LEFT + rank(op.call) * scale;
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
            Mark::Prefix(n) => format!(r#"<tspan class="step">{n}</tspan> "#),
            Mark::Unplaced => r#"<tspan class="step">✗</tspan> "#.to_owned(),
            Mark::Failing | Mark::Other => String::new(),
        };
        let tail = if pending {
            " · never returned →"
        } else {
            ""
        };
        let _ = write!(
            svg,
            r#"<svg x="{x}" y="{y}" width="{w}" height="{BAR_HEIGHT}"><text x="4" y="14" class="label">{lead}{}{tail}</text></svg>"#,
            escape(&description)
        );
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");

    let text = report.describe(model, history);
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5em; }}
.timeline {{ overflow-x: auto; border: 1px solid #ccc; padding: 4px; }}
h1 {{ font-size: 1.4em; overflow-wrap: anywhere; }}
rect {{ stroke: #333; stroke-width: 0.5; }}
.pending rect {{ stroke-dasharray: 4 3; stroke-width: 1.2; fill-opacity: 0.55; }}
.other rect {{ fill: #d9d9d9; }}
.failing rect {{ fill: #f4b183; }}
.prefix rect {{ fill: #8fd18f; }}
.unplaced rect {{ fill: #e05050; }}
.label {{ font: 11px ui-monospace, monospace; pointer-events: none; }}
.step {{ font-weight: bold; }}
.client {{ font-size: 12px; }}
.legend span {{ display: inline-block; padding: 1px 8px; margin-right: 8px; border: 1px solid #333; }}
pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; }}
</style></head><body>
<h1>{title}</h1>
<p class="legend"><span style="background:#8fd18f">longest linearizable prefix (numbered in order)</span><span style="background:#e05050">could not be placed</span><span style="background:#f4b183">rest of the failing partition</span><span style="background:#d9d9d9">other operations</span><span style="border-style:dashed">never returned (runs to the end)</span></p>
<p>One row per client; time runs left to right, each call and return one step (evenly spaced, in order). A bar's label is cut where the bar ends: hover over it for the whole operation.</p>
<div class="timeline">{svg}</div>
<pre>{}</pre>
<script>
// Bring the operation that could not be placed into view.
const unplaced = document.querySelector(".unplaced");
if (unplaced) unplaced.scrollIntoView({{ block: "nearest", inline: "center" }});
</script>
</body></html>
"#,
        escape(&text),
        title = escape(title)
    )
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
