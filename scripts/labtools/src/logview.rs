//! Reading and laying out the labs' log lines (`scripts/logs`).
//!
//! Peers log one line shape, `<ms> <TOPIC> S<peer> T<term> <message>`, and
//! the test harness `<ms> TEST <message>`; the grammar, writer and parser
//! are [`labrpc::trace`]'s. Everything else (test titles, summary lines,
//! panics) passes through unchanged.

use console::Style;
pub use labrpc::trace::{Line, parse};

/// What to show, and how.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Number of server columns.
    pub columns: usize,
    /// Total width in characters.
    pub width: usize,
    /// Whether to colour (only on a terminal).
    pub colour: bool,
    /// Show only these topics (all when empty).
    pub just: Vec<String>,
    /// Never show these topics.
    pub ignore: Vec<String>,
    /// Show only these servers' events (all when empty).
    pub servers: Vec<usize>,
}

impl Layout {
    fn shows(&self, topic: &str) -> bool {
        (self.just.is_empty() || self.just.iter().any(|t| t.eq_ignore_ascii_case(topic)))
            && !self.ignore.iter().any(|t| t.eq_ignore_ascii_case(topic))
    }

    fn column_width(&self) -> usize {
        (self.width / self.columns.max(1)).max(12)
    }

    /// A row naming the columns: `S0`, `S1`, ...
    pub fn header(&self) -> String {
        let column = self.column_width();
        let names: String = (0..self.columns)
            .map(|server| format!("{:<column$}", format!("S{server}")))
            .collect();
        Style::new()
            .force_styling(self.colour)
            .bold()
            .apply_to(names.trim_end())
            .to_string()
    }

    /// The line laid out (possibly over several rows), or `None` when the
    /// filters hide it.
    pub fn render(&self, line: &Line<'_>) -> Option<String> {
        match *line {
            Line::Event {
                ms,
                topic,
                peer: server,
                term,
                message,
            } => {
                if !self.shows(topic)
                    || (!self.servers.is_empty() && !self.servers.contains(&server))
                {
                    return None;
                }
                let column = self.column_width();
                let text = format!("{ms:06} {topic} T{term} {message}");
                let rows = wrap(&text, column - 1);
                let indent = " ".repeat(column * server.min(self.columns.saturating_sub(1)));
                let style = self.style(topic);
                let rendered: Vec<String> = rows
                    .iter()
                    .map(|row| format!("{indent}{}", style.apply_to(row)))
                    .collect();
                Some(rendered.join("\n"))
            }
            Line::Harness { ms, message } => {
                if !self.shows("TEST") {
                    return None;
                }
                let text = format!("{ms:06} TEST {message} ");
                let fill = self.width.saturating_sub(text.chars().count());
                let text = format!("{text}{}", "─".repeat(fill));
                Some(self.style("TEST").apply_to(text).to_string())
            }
            Line::Other(text) => Some(text.to_owned()),
        }
    }

    fn style(&self, topic: &str) -> Style {
        let style = Style::new().force_styling(self.colour);
        if !self.colour {
            return style;
        }
        match topic {
            "VOTE" => style.yellow(),
            "LEAD" => style.green().bold(),
            "APND" => style.blue(),
            "CMIT" => style.magenta(),
            "SNAP" => style.cyan(),
            "TERM" => style.red(),
            "PERS" => style.white().dim(),
            "TIMR" => style.yellow().dim(),
            "DROP" => style.red().dim(),
            "TEST" => style.black().on_white().bold(),
            _ => style,
        }
    }
}

/// The number of columns a log needs: one more than its highest server.
pub fn columns_needed<'a>(lines: impl IntoIterator<Item = &'a str>) -> usize {
    lines
        .into_iter()
        .filter_map(|line| match parse(line) {
            Line::Event { peer, .. } => Some(peer + 1),
            _ => None,
        })
        .max()
        .unwrap_or(1)
}

/// Splits `text` into rows of at most `width` characters, at spaces where
/// possible.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rows = Vec::new();
    let mut row = String::new();
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let row_len = row.chars().count();
            let needed = word.len() + usize::from(row_len > 0);
            if row_len + needed <= width {
                if row_len > 0 {
                    row.push(' ');
                }
                row.extend(word.iter());
                break;
            }
            if row_len > 0 {
                rows.push(std::mem::take(&mut row));
                continue;
            }
            // A word longer than a row: cut it.
            let rest = word.split_off(width);
            rows.push(word.iter().collect());
            word = rest;
        }
    }
    if !row.is_empty() || rows.is_empty() {
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(columns: usize, width: usize) -> Layout {
        Layout {
            columns,
            width,
            colour: false,
            just: vec![],
            ignore: vec![],
            servers: vec![],
        }
    }

    #[test]
    fn events_go_in_their_servers_column() {
        let layout = plain(3, 120);
        let line = layout
            .render(&parse("000402 LEAD S2 T1 becomes leader"))
            .unwrap();
        assert_eq!(
            line,
            format!("{}000402 LEAD T1 becomes leader", " ".repeat(80))
        );
        let harness = layout.render(&parse("000001 TEST crash S0")).unwrap();
        assert!(harness.starts_with("000001 TEST crash S0 ─"));
        assert_eq!(harness.chars().count(), 120, "harness lines span the width");
        assert_eq!(
            layout.header(),
            format!("S0{}S1{}S2", " ".repeat(38), " ".repeat(38))
        );
    }

    #[test]
    fn long_messages_wrap_inside_the_column() {
        let layout = plain(2, 40);
        let text = layout
            .render(&parse(
                "000010 APND S1 T2 appends entries 5..=9 from S0 at once",
            ))
            .unwrap();
        for row in text.lines() {
            assert!(row.starts_with(&" ".repeat(20)), "{row:?}");
            assert!(row.chars().count() <= 40, "{row:?}");
        }
        assert!(text.lines().count() > 1);
    }

    #[test]
    fn filters_hide_topics_and_servers() {
        let mut layout = plain(3, 60);
        layout.just = vec!["vote".into()];
        assert!(layout.render(&parse("1 VOTE S0 T1 x")).is_some());
        assert!(layout.render(&parse("1 LEAD S0 T1 x")).is_none());
        assert!(layout.render(&parse("1 TEST x")).is_none());
        let mut layout = plain(3, 60);
        layout.ignore = vec!["APND".into()];
        layout.servers = vec![1];
        assert!(layout.render(&parse("1 APND S1 T1 x")).is_none());
        assert!(layout.render(&parse("1 VOTE S0 T1 x")).is_none());
        assert!(layout.render(&parse("1 VOTE S1 T1 x")).is_some());
        assert!(layout.render(&parse("Test (2A) ...")).is_some());
    }

    #[test]
    fn columns_come_from_the_highest_server() {
        let lines = ["1 VOTE S0 T1 a", "2 VOTE S4 T1 b", "3 TEST c", "text"];
        assert_eq!(columns_needed(lines), 5);
        assert_eq!(columns_needed(["nothing"]), 1);
    }
}
