//! A test process's output, kept within bounds: whatever a test prints (a
//! submission may print gigabytes), its log holds at most the first
//! [`HEAD`] and the last [`TAIL`] bytes, with a line between them that says
//! how much was cut, and the tools hold at most the tail in memory. Nothing
//! the tools judge by travels in the output (that is the run record's,
//! [`labrpc::record`]), so the cut loses nothing but what a person might
//! have read.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The bytes kept from the start of a process's output.
pub const HEAD: usize = 1 << 20;

/// The bytes kept from the end of a process's output.
pub const TAIL: usize = 1 << 20;

/// What [`keep`] saw of a process's output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kept {
    /// Every byte the process wrote.
    pub total: u64,
    /// The bytes left out of the log.
    pub cut: u64,
}

/// Copies `output` into `log` until it ends, keeping its first [`HEAD`]
/// and last [`TAIL`] bytes and saying between them how many were cut.
///
/// # Errors
/// When reading the output or writing the log fails.
pub fn keep(mut output: impl Read, mut log: File) -> io::Result<Kept> {
    let mut kept = Kept::default();
    let mut chunk = vec![0; 64 * 1024];
    let mut tail: VecDeque<u8> = VecDeque::new();
    loop {
        let read = match output.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let bytes = &chunk[..read];
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

    fn kept(input: &[u8]) -> (Kept, String) {
        let dir = std::env::temp_dir().join(format!("labtools-output-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.log", input.len()));
        let kept = keep(input, File::create(&path).unwrap()).unwrap();
        let log = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let _ = std::fs::remove_file(&path);
        (kept, log)
    }

    #[test]
    fn short_output_is_kept_whole() {
        let (kept, log) = kept(b"one\ntwo\nthree");
        assert_eq!(kept, Kept { total: 13, cut: 0 });
        assert_eq!(log, "one\ntwo\nthree");
        let path = std::env::temp_dir().join(format!("labtools-whole-{}", std::process::id()));
        std::fs::write(&path, &log).unwrap();
        assert_eq!(cut_note(&path), None);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn long_output_keeps_its_head_and_tail_and_says_what_was_cut() {
        let mut input = b"first line\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 5 * (HEAD + TAIL)));
        input.extend(b"\nthe last line\n".iter());
        let (kept, log) = kept(&input);
        assert_eq!(kept.total, input.len() as u64);
        assert_eq!(kept.cut, (input.len() - HEAD - TAIL) as u64);
        assert!(log.len() < HEAD + TAIL + 200, "log of {} bytes", log.len());
        assert!(log.starts_with("first line\nxxx"));
        assert!(log.ends_with("xxx\nthe last line\n"));
        assert!(log.contains(&format!("[... {} bytes of output cut here", kept.cut)));
        let path = std::env::temp_dir().join(format!("labtools-cut-{}", std::process::id()));
        std::fs::write(&path, &log).unwrap();
        let note = cut_note(&path).expect("a note");
        let _ = std::fs::remove_file(&path);
        assert!(
            note.starts_with(&format!("[... {} bytes", kept.cut)),
            "{note}"
        );
    }

    #[test]
    fn last_chars_cuts_the_front_and_says_so() {
        assert_eq!(last_chars("short", 10), "short");
        assert_eq!(last_chars("ééééé", 2), "[... 3 characters cut ...]éé");
    }
}
