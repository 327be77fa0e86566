//! A test process's output, kept within bounds: whatever a test prints (a
//! submission may print gigabytes), its log holds at most the first
//! [`HEAD`] and the last [`TAIL`] bytes, with a line between them that says
//! how much was cut, and the tools hold at most one line of
//! [`LONGEST_LINE`] bytes and the tail in memory. Each complete line is
//! handed to the caller as it passes, before anything is cut, so that a
//! line the tools look for (the harness's verdict) is seen wherever it
//! falls.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The bytes kept from the start of a process's output.
pub const HEAD: usize = 1 << 20;

/// The bytes kept from the end of a process's output.
pub const TAIL: usize = 1 << 20;

/// The longest line handed to the caller; a longer one is skipped whole
/// (the lines the tools look for are short).
pub const LONGEST_LINE: usize = 4096;

/// What [`keep`] saw of a process's output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kept {
    /// Every byte the process wrote.
    pub total: u64,
    /// The bytes left out of the log.
    pub cut: u64,
}

/// Copies `output` into `log` until it ends, keeping its first [`HEAD`]
/// and last [`TAIL`] bytes and saying between them how many were cut;
/// hands `line` each complete line of at most [`LONGEST_LINE`] bytes (a
/// last line without its newline too), lossily decoded, in order.
///
/// # Errors
/// When reading the output or writing the log fails.
pub fn keep(mut output: impl Read, mut log: File, mut line: impl FnMut(&str)) -> io::Result<Kept> {
    let mut kept = Kept::default();
    let mut chunk = vec![0; 64 * 1024];
    let mut tail: VecDeque<u8> = VecDeque::new();
    let mut current: Vec<u8> = Vec::new();
    // Whether the line being read has grown past LONGEST_LINE.
    let mut too_long = false;
    loop {
        let read = match output.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let bytes = &chunk[..read];
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            let (text, ends) = match piece.split_last() {
                Some((b'\n', text)) => (text, true),
                _ => (piece, false),
            };
            if !too_long && current.len() + text.len() <= LONGEST_LINE {
                current.extend_from_slice(text);
            } else {
                too_long = true;
                current.clear();
            }
            if ends {
                if !too_long {
                    line(&String::from_utf8_lossy(&current));
                }
                current.clear();
                too_long = false;
            }
        }
        let head = HEAD.saturating_sub(usize::try_from(kept.total).unwrap_or(usize::MAX));
        let (to_log, rest) = bytes.split_at(head.min(bytes.len()));
        log.write_all(to_log)?;
        tail.extend(rest);
        if tail.len() > TAIL {
            let excess = tail.len() - TAIL;
            tail.drain(..excess);
            kept.cut += excess as u64;
        }
        kept.total += read as u64;
    }
    if !too_long && !current.is_empty() {
        line(&String::from_utf8_lossy(&current));
    }
    if kept.cut > 0 {
        writeln!(
            log,
            "\n[... {} bytes of output cut here: the tools keep the first {} and the last {} \
             of the {} bytes the test printed ...]",
            kept.cut,
            mib(HEAD),
            mib(TAIL),
            kept.total
        )?;
    }
    let (front, back) = tail.as_slices();
    log.write_all(front)?;
    log.write_all(back)?;
    log.flush()?;
    Ok(kept)
}

/// The note [`keep`] left in `log` where it cut the output, if it cut any.
pub fn cut_note(log: &Path) -> Option<String> {
    let mut file = File::open(log).ok()?;
    if file.metadata().ok()?.len() <= HEAD as u64 {
        return None;
    }
    file.seek(SeekFrom::Start(HEAD as u64)).ok()?;
    let mut start = vec![0; 512];
    let read = file.read(&mut start).ok()?;
    let text = String::from_utf8_lossy(&start[..read]);
    let note = text.strip_prefix('\n')?.lines().next()?;
    note.starts_with("[... ").then(|| note.to_owned())
}

/// `bytes` as MiB, for the note.
fn mib(bytes: usize) -> String {
    format!("{} MiB", bytes >> 20)
}

/// At most the last `chars` characters of `text`, with a note of what was
/// cut before them.
pub fn last_chars(text: &str, chars: usize) -> String {
    let count = text.chars().count();
    if count <= chars {
        return text.to_owned();
    }
    let start = text
        .char_indices()
        .nth(count - chars)
        .map_or(text.len(), |(i, _)| i);
    format!(
        "[... {} characters cut ...]{}",
        count - chars,
        &text[start..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(input: &[u8]) -> (Kept, String, Vec<String>) {
        let dir = std::env::temp_dir().join(format!("labtools-output-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.log", input.len()));
        let mut lines = Vec::new();
        let kept = keep(input, File::create(&path).unwrap(), |l| {
            lines.push(l.to_owned())
        })
        .unwrap();
        let log = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let _ = std::fs::remove_file(&path);
        (kept, log, lines)
    }

    #[test]
    fn short_output_is_kept_whole_and_every_line_seen() {
        let (kept, log, lines) = kept(b"one\ntwo\nthree");
        assert_eq!(kept, Kept { total: 13, cut: 0 });
        assert_eq!(log, "one\ntwo\nthree");
        assert_eq!(lines, ["one", "two", "three"]);
    }

    #[test]
    fn long_output_keeps_its_head_and_tail_and_says_what_was_cut() {
        let mut input = b"first line\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 5 * (HEAD + TAIL)));
        input.extend(b"\nthe verdict\n".iter());
        let (kept, log, lines) = kept(&input);
        assert_eq!(kept.total, input.len() as u64);
        assert_eq!(kept.cut, (input.len() - HEAD - TAIL) as u64);
        assert!(log.len() < HEAD + TAIL + 200, "log of {} bytes", log.len());
        assert!(log.starts_with("first line\nxxx"));
        assert!(log.ends_with("xxx\nthe verdict\n"));
        assert!(log.contains(&format!("[... {} bytes of output cut here", kept.cut)));
        let path = std::env::temp_dir().join(format!("labtools-cut-{}", std::process::id()));
        std::fs::write(&path, &log).unwrap();
        let note = cut_note(&path).expect("a note");
        let _ = std::fs::remove_file(&path);
        assert!(
            note.starts_with(&format!("[... {} bytes", kept.cut)),
            "{note}"
        );
        // The long line is skipped whole; the lines around it are seen.
        assert_eq!(lines, ["first line", "the verdict"]);
    }

    #[test]
    fn a_line_split_across_reads_is_seen_once_whole() {
        /// Hands out its bytes a few at a time.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(3).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let path = std::env::temp_dir().join(format!("labtools-trickle-{}", std::process::id()));
        let mut lines = Vec::new();
        keep(
            Trickle(b"a verdict line\nand more\n"),
            File::create(&path).unwrap(),
            |l| lines.push(l.to_owned()),
        )
        .unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(lines, ["a verdict line", "and more"]);
    }

    #[test]
    fn last_chars_cuts_the_front_and_says_so() {
        assert_eq!(last_chars("short", 10), "short");
        assert_eq!(last_chars("ééééé", 2), "[... 3 characters cut ...]éé");
    }
}
