//! `scripts/logs`: lays out a Raft log with a column per server. See the
//! README's "Reading logs".

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use labtools::logview::{self, Layout};

/// Lays out a log (`RUST_LOG=raft=debug cargo test ... -- --nocapture`)
/// with one column per server and a colour per topic; test-harness lines
/// span the width, and other lines pass through. Colours only on a terminal.
#[derive(Parser)]
#[command(name = "scripts/logs")]
struct Args {
    /// The log to read; standard input when absent or `-`.
    file: Option<PathBuf>,
    /// Show only these topics (comma-separated, e.g. VOTE,LEAD).
    #[arg(short, long, value_delimiter = ',')]
    just: Vec<String>,
    /// Hide these topics (comma-separated).
    #[arg(short, long, value_delimiter = ',')]
    ignore: Vec<String>,
    /// Show only these servers' events (comma-separated ids).
    #[arg(short, long, value_delimiter = ',')]
    servers: Vec<usize>,
    /// Number of columns; also makes the viewer print lines as they come
    /// instead of reading the whole log first to count the servers.
    #[arg(short, long)]
    columns: Option<usize>,
    /// Total width (default: the terminal's, else 160).
    #[arg(short, long)]
    width: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let input: Box<dyn Read> = match &args.file {
        Some(path) if path.as_os_str() != "-" => match File::open(path) {
            Ok(file) => Box::new(file),
            Err(e) => {
                eprintln!("logs: cannot open {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        _ => Box::new(std::io::stdin()),
    };
    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let width = args.width.unwrap_or_else(|| {
        let (_, columns) = console::Term::stdout().size_checked().unwrap_or((0, 160));
        if terminal { usize::from(columns) } else { 160 }
    });
    let mut layout = Layout {
        columns: args.columns.unwrap_or(1),
        width,
        colour: terminal,
        just: args.just,
        ignore: args.ignore,
        servers: args.servers,
    };
    let mut out = stdout.lock();
    let mut lines = BufReader::new(input).lines();
    let result = if args.columns.is_some() {
        writeln!(out, "{}", layout.header())
            .and_then(|()| lines.try_for_each(|line| write_line(&layout, &line?, &mut out)))
    } else {
        lines.collect::<Result<Vec<String>, _>>().and_then(|all| {
            layout.columns = logview::columns_needed(all.iter().map(String::as_str));
            writeln!(out, "{}", layout.header())?;
            all.iter()
                .try_for_each(|line| write_line(&layout, line, &mut out))
        })
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`scripts/logs f | head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("logs: {e}");
            ExitCode::from(2)
        }
    }
}

fn write_line(layout: &Layout, line: &str, out: &mut impl Write) -> std::io::Result<()> {
    match layout.render(&logview::parse(line)) {
        Some(text) => writeln!(out, "{text}"),
        None => Ok(()),
    }
}
