//! The key/value model (`get`, `put`, `append` on string values, one string
//! per key) and the text format of key/value histories.
//!
//! The format is the one of porcupine's and Jepsen's key/value logs: one
//! event per line, in real-time order.
//!
//! ```text
//! {:process 3, :type :invoke, :f :append, :key "4", :value "x 3 17 y"}
//! {:process 3, :type :ok, :f :append, :key "4", :value "x 3 17 y"}
//! {:process 0, :type :invoke, :f :get, :key "9", :value nil}
//! {:process 0, :type :ok, :f :get, :key "9", :value "x 0 2 yx 1 5 y"}
//! ```
//!
//! `:invoke` starts an operation of a process, and that process's next
//! `:ok` ends it. `:fail` means the operation did not happen; `:info`, or no
//! end at all, means it may or may not have (it may take effect any time
//! after its call; a `get` that never returned constrains nothing). A line's
//! position is its time.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use super::{Model, Operation, Pending, partition_by_key};

/// The key/value store's sequential specification.
pub struct KvModel;

/// A key/value operation's input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvInput {
    /// Read a key ("" when absent).
    Get {
        /// The key.
        key: String,
    },
    /// Replace a key's value.
    Put {
        /// The key.
        key: String,
        /// The new value.
        value: String,
    },
    /// Append to a key's value (absent counts as "").
    Append {
        /// The key.
        key: String,
        /// What to append.
        value: String,
    },
}

impl KvInput {
    /// The key the operation touches.
    pub fn key(&self) -> &str {
        match self {
            KvInput::Get { key } | KvInput::Put { key, .. } | KvInput::Append { key, .. } => key,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            KvInput::Get { .. } => "get",
            KvInput::Put { .. } => "put",
            KvInput::Append { .. } => "append",
        }
    }
}

/// A key/value operation's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOutput {
    /// What a `get` returned.
    Value(KvValue),
    /// A `put` or `append` completed.
    Done,
    /// The operation never returned.
    Unknown,
}

/// A value a `get` returned. It is kept as the model keeps its values (see
/// [`KvState`]): a length and a fingerprint, worked out once, against which
/// the search compares a state in constant time each time it tries to place
/// the `get`; and the text, in pieces. A recorder that sees a key's value
/// grow by appends records each new value as the previous one
/// [`extended`](KvValue::extended), so a history of many gets of a long
/// value holds that value's text once, not once per get.
#[derive(Clone, PartialEq, Eq)]
pub struct KvValue(KvState);

/// How many of a value's pieces the look-ahead walks back, at most, to find
/// the one where a state would end; past that it does not judge.
const LOOK_BACK_PIECES: usize = 64;

impl KvValue {
    /// The value's text.
    pub fn text(&self) -> String {
        self.0.text()
    }

    /// This value followed by `suffix`, sharing this value's text.
    pub fn extended(&self, suffix: &str) -> KvValue {
        KvValue(self.0.append(suffix))
    }

    /// Whether `state` is a prefix of this value (equal fingerprints, as for
    /// equality; see [`KvState`]), or `None` when telling would cost too
    /// much: the piece of the value where the state would end is more than
    /// [`LOOK_BACK_PIECES`] from its end. Each piece works out the
    /// fingerprints of the prefixes that end within it the first time it is
    /// asked (16 bytes per byte of its text, kept with the piece and shared
    /// by the values that extend it), so a query costs the walk back and
    /// constant time, and a history's tables cost as much as its distinct
    /// text.
    fn starts_with(&self, state: &KvState) -> Option<bool> {
        if state.len >= self.0.len {
            return Some(*state == self.0);
        }
        let mut piece = self.0.pieces.as_deref();
        for _ in 0..LOOK_BACK_PIECES {
            let p = piece?;
            if p.start <= state.len {
                return Some(p.prefix(state.len - p.start) == state.fingerprint);
            }
            piece = p.before.as_deref();
        }
        None
    }
}

impl From<String> for KvValue {
    fn from(text: String) -> KvValue {
        KvValue(KvState::default().append(&text))
    }
}

impl From<&str> for KvValue {
    fn from(text: &str) -> KvValue {
        KvValue(KvState::default().append(text))
    }
}

impl fmt::Debug for KvValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text(), f)
    }
}

/// An operation of a key/value history.
pub type KvOperation = Operation<KvModel>;

impl Model for KvModel {
    type State = KvState;
    type Input = KvInput;
    type Output = KvOutput;

    fn init(&self) -> KvState {
        KvState::default()
    }

    fn step(&self, state: &KvState, input: &KvInput, output: &KvOutput) -> Option<KvState> {
        match (input, output) {
            (KvInput::Get { .. }, KvOutput::Value(value)) => {
                (*state == value.0).then(|| state.clone())
            }
            (KvInput::Get { .. }, KvOutput::Unknown) => Some(state.clone()),
            (KvInput::Get { .. }, KvOutput::Done) => None,
            (KvInput::Put { value, .. }, _) => Some(KvState::default().append(value)),
            (KvInput::Append { value, .. }, _) => Some(state.append(value)),
        }
    }

    /// Looks ahead to the next `get` to return: until a `put` may come
    /// between, the value can only grow by appends, so the value that `get`
    /// returned must begin with `state` (checked when that is cheap: the
    /// state ends within the value's last 64 pieces). Within one key, this
    /// orders a run of concurrent appends by the first `get` that sees them,
    /// instead of trying each order the run allows.
    fn may_continue<'a>(
        &self,
        state: &KvState,
        mut pending: impl Iterator<Item = Pending<'a, Self>>,
    ) -> Result<(), Pending<'a, Self>> {
        let next = pending.find(
            |event| match (&event.operation.input, &event.operation.output) {
                // A put may be placed before any later get: no constraint.
                (KvInput::Put { .. }, _) => !event.returned,
                (KvInput::Get { .. }, KvOutput::Value(_)) => event.returned,
                _ => false,
            },
        );
        match next {
            Some(event) => match &event.operation.output {
                KvOutput::Value(value) if value.starts_with(state) == Some(false) => Err(event),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// One partition per key: operations on different keys cannot affect
    /// each other.
    fn partition(&self, history: &[KvOperation]) -> Vec<(String, Vec<usize>)> {
        partition_by_key(history, KvInput::key)
    }

    fn describe_operation(&self, input: &KvInput, output: &KvOutput) -> String {
        match (input, output) {
            (KvInput::Get { key }, KvOutput::Value(value)) => {
                format!("get({key:?}) -> {}", abbreviate(&value.text()))
            }
            (KvInput::Get { key }, _) => format!("get({key:?}) -> ?"),
            (KvInput::Put { key, value }, _) => format!("put({key:?}, {})", abbreviate(value)),
            (KvInput::Append { key, value }, _) => {
                format!("append({key:?}, {})", abbreviate(value))
            }
        }
    }

    fn describe_state(&self, state: &KvState) -> String {
        abbreviate(&state.text())
    }
}

/// The value of one key in the model.
///
/// The search copies and compares states at every step, and remembers each
/// one it visits; values grow with every append, so the state is not the
/// text itself. It is the text's length and a fingerprint, which append in
/// constant time per appended byte, and compare and hash in constant time;
/// plus the list of puts and appends that made it, shared between states,
/// from which [`KvState::text`] rebuilds the text for reports.
///
/// The fingerprint is two polynomial hashes of the bytes modulo the prime
/// 2^61 − 1. Two different texts of equal length L are taken for equal only
/// if both hashes collide, which for texts that were not built to collide
/// happens with probability about (L / 2^61)^2: below 10^-24 for a
/// megabyte.
#[derive(Clone, Default)]
pub struct KvState {
    len: usize,
    fingerprint: [u64; 2],
    pieces: Option<Arc<Piece>>,
}

/// A piece of a value: the text a put set or an append added, after the
/// pieces before it.
struct Piece {
    text: String,
    before: Option<Arc<Piece>>,
    /// The length and fingerprint of the value before this piece.
    start: usize,
    start_fingerprint: [u64; 2],
    /// The fingerprints of the value's prefixes that end in this piece, by
    /// length past `start` (0 to the text's length), once asked for.
    prefixes: OnceLock<Box<[[u64; 2]]>>,
}

impl Piece {
    /// The fingerprint of the value's first `start + len` bytes.
    fn prefix(&self, len: usize) -> [u64; 2] {
        let prefixes = self.prefixes.get_or_init(|| {
            let mut fingerprint = self.start_fingerprint;
            let mut prefixes = Vec::with_capacity(self.text.len() + 1);
            prefixes.push(fingerprint);
            for &byte in self.text.as_bytes() {
                fingerprint = extend_byte(fingerprint, byte);
                prefixes.push(fingerprint);
            }
            prefixes.into_boxed_slice()
        });
        prefixes[len]
    }
}

/// Unlinks iteratively: a value built by many appends is a long list, and
/// dropping it recursively could overflow the stack.
impl Drop for Piece {
    fn drop(&mut self) {
        let mut before = self.before.take();
        while let Some(piece) = before {
            match Arc::try_unwrap(piece) {
                Ok(mut piece) => before = piece.before.take(),
                Err(_) => break, // still shared: its other owner drops it
            }
        }
    }
}

/// The fingerprint's modulus, 2^61 − 1, and its two bases.
const MODULUS: u64 = (1 << 61) - 1;
const BASES: [u64; 2] = [0x0ac5_9e3b_7f4a_7c15, 0x1b87_3593_cc9e_2d51];

fn mul_mod(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    let folded = (product & u128::from(MODULUS)) + (product >> 61);
    let folded = u64::try_from(folded).expect("below 2^62");
    if folded >= MODULUS {
        folded - MODULUS
    } else {
        folded
    }
}

/// The fingerprint of `before` followed by `text`, given `before`'s.
fn extend(fingerprint: [u64; 2], text: &str) -> [u64; 2] {
    text.bytes().fold(fingerprint, extend_byte)
}

/// The fingerprint of `before` followed by one byte, given `before`'s.
fn extend_byte(mut fingerprint: [u64; 2], byte: u8) -> [u64; 2] {
    for (hash, base) in fingerprint.iter_mut().zip(BASES) {
        *hash = mul_mod(*hash, base) + u64::from(byte) + 1;
        if *hash >= MODULUS {
            *hash -= MODULUS;
        }
    }
    fingerprint
}

impl KvState {
    /// This value with `text` appended.
    fn append(&self, text: &str) -> KvState {
        KvState {
            len: self.len + text.len(),
            fingerprint: extend(self.fingerprint, text),
            pieces: Some(Arc::new(Piece {
                text: text.to_owned(),
                before: self.pieces.clone(),
                start: self.len,
                start_fingerprint: self.fingerprint,
                prefixes: OnceLock::new(),
            })),
        }
    }

    /// The value's text.
    pub fn text(&self) -> String {
        let mut pieces = Vec::new();
        let mut piece = self.pieces.as_deref();
        while let Some(p) = piece {
            pieces.push(p.text.as_str());
            piece = p.before.as_deref();
        }
        pieces.reverse();
        pieces.concat()
    }
}

/// Equal values: equal lengths and fingerprints (see [`KvState`]).
impl PartialEq for KvState {
    fn eq(&self, other: &KvState) -> bool {
        self.len == other.len && self.fingerprint == other.fingerprint
    }
}

impl Eq for KvState {}

impl std::hash::Hash for KvState {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.len.hash(state);
        self.fingerprint.hash(state);
    }
}

impl fmt::Debug for KvState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&abbreviate(&self.text()))
    }
}

/// A quoted value, cut short in the middle when long.
fn abbreviate(value: &str) -> String {
    const KEEP: usize = 24;
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 2 * KEEP + 10 {
        return format!("{value:?}");
    }
    let head: String = chars[..KEEP].iter().collect();
    let tail: String = chars[chars.len() - KEEP..].iter().collect();
    format!("{head:?}…({} chars)…{tail:?}", chars.len())
}

/// A line of a history file that could not be understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The line's number, from 1.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// A value in an event line.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Keyword(String),
    Text(String),
    Int(u64),
    Nil,
}

/// Reads a history in the text format above.
///
/// # Errors
/// On the first line that is not an event map with `:process`, `:type`,
/// `:f`, `:key` and `:value`, or whose event does not fit the history so far
/// (an `:ok` with no operation in progress, an `:invoke` while one is).
pub fn parse_history(text: &str) -> Result<Vec<KvOperation>, ParseError> {
    let mut ops: Vec<Option<KvOperation>> = Vec::new();
    let mut in_progress: HashMap<usize, usize> = HashMap::new();
    let mut seen = SeenValues::default();
    for (number, line) in text.lines().enumerate() {
        let number = number + 1;
        if line.trim().is_empty() {
            continue;
        }
        let error = |message: String| ParseError {
            line: number,
            message,
        };
        let fields = parse_map(line).map_err(error)?;
        let get = |name: &str| {
            fields
                .get(name)
                .ok_or_else(|| error(format!("no :{name} in {line:?}")))
        };
        let process = match get("process")? {
            Value::Int(n) => {
                usize::try_from(*n).map_err(|_| error("process out of range".into()))?
            }
            other => return Err(error(format!(":process must be a number, not {other:?}"))),
        };
        let kind = keyword(get("type")?).ok_or_else(|| error(":type must be a keyword".into()))?;
        let f = keyword(get("f")?).ok_or_else(|| error(":f must be a keyword".into()))?;
        let key = match get("key")? {
            Value::Text(key) => key.clone(),
            other => return Err(error(format!(":key must be a string, not {other:?}"))),
        };
        let value = match get("value")? {
            Value::Text(v) => Some(v.clone()),
            Value::Nil => None,
            other => {
                return Err(error(format!(
                    ":value must be a string or nil, not {other:?}"
                )));
            }
        };
        let time = number as u64;
        match kind {
            "invoke" => {
                if let Some(&pending) = in_progress.get(&process) {
                    return Err(error(format!(
                        "process {process} invokes an operation while its operation from line \
                         {} is in progress",
                        ops[pending].as_ref().map_or(0, |o| o.call)
                    )));
                }
                let input = match (f, value) {
                    ("get", _) => KvInput::Get { key },
                    ("put", Some(value)) => KvInput::Put { key, value },
                    ("append", Some(value)) => KvInput::Append { key, value },
                    ("put" | "append", None) => {
                        return Err(error(format!(":{f} needs a string :value")));
                    }
                    (other, _) => {
                        return Err(error(format!(
                            "unknown operation :{other} (expected :get, :put or :append)"
                        )));
                    }
                };
                in_progress.insert(process, ops.len());
                ops.push(Some(Operation {
                    client: process,
                    input,
                    call: time,
                    output: KvOutput::Unknown,
                    ret: u64::MAX,
                }));
            }
            "ok" | "fail" | "info" => {
                let Some(index) = in_progress.remove(&process) else {
                    return Err(error(format!(
                        "process {process} ends an operation (:{kind}) it never invoked"
                    )));
                };
                let op = ops[index].as_mut().expect("in progress, so present");
                if op.input.name() != f || op.input.key() != key {
                    return Err(error(format!(
                        "process {process} ends :{f} on {key:?}, but invoked :{} on {:?}",
                        op.input.name(),
                        op.input.key()
                    )));
                }
                match kind {
                    "ok" => {
                        op.ret = time;
                        op.output = match &op.input {
                            KvInput::Get { key } => {
                                KvOutput::Value(seen.record(key, value.unwrap_or_default()))
                            }
                            KvInput::Put { .. } | KvInput::Append { .. } => KvOutput::Done,
                        };
                    }
                    // It did not happen: drop it.
                    "fail" => ops[index] = None,
                    // It may or may not have happened: leave it in progress
                    // forever.
                    _ => {}
                }
            }
            other => {
                return Err(error(format!(
                    "unknown :type :{other} (expected :invoke, :ok, :fail or :info)"
                )));
            }
        }
    }
    Ok(ops.into_iter().flatten().collect())
}

/// The value each key's last `get` returned, so that a value that extends
/// it is kept as its extension (see [`KvValue`]): the look-ahead's prefix
/// tables then cost as much as the history's distinct text, not as much as
/// all its values.
#[derive(Default)]
pub struct SeenValues(HashMap<String, (String, KvValue)>);

impl SeenValues {
    /// `value`, which a `get` of `key` returned, kept as the extension of
    /// the last value seen for `key` when it extends it.
    pub fn record(&mut self, key: &str, value: String) -> KvValue {
        let recorded = match self.0.get(key) {
            Some((last, recorded)) if value.starts_with(last.as_str()) => {
                recorded.extended(&value[last.len()..])
            }
            _ => KvValue::from(value.as_str()),
        };
        self.0.insert(key.to_owned(), (value, recorded.clone()));
        recorded
    }
}

/// Writes a history in the text format above: the events in time order
/// (calls before returns at equal times), an operation that never returned
/// with its call only.
pub fn format_history(history: &[KvOperation]) -> String {
    let mut events: Vec<(u64, bool, usize)> = Vec::new();
    for (i, op) in history.iter().enumerate() {
        events.push((op.call, false, i));
        if op.ret != u64::MAX {
            events.push((op.ret, true, i));
        }
    }
    events.sort_unstable();
    let mut text = String::new();
    for (_, is_return, i) in events {
        let op = &history[i];
        let (kind, value) = match (&op.input, is_return, &op.output) {
            (KvInput::Get { .. }, false, _) => ("invoke", None),
            (KvInput::Get { .. }, true, KvOutput::Value(v)) => ("ok", Some(v.text())),
            (KvInput::Get { .. }, true, _) => ("ok", Some(String::new())),
            (KvInput::Put { value, .. } | KvInput::Append { value, .. }, r, _) => {
                (if r { "ok" } else { "invoke" }, Some(value.clone()))
            }
        };
        let value = value.map_or_else(|| "nil".to_owned(), |v| quote(&v));
        text.push_str(&format!(
            "{{:process {}, :type :{kind}, :f :{}, :key {}, :value {value}}}\n",
            op.client,
            op.input.name(),
            quote(op.input.key())
        ));
    }
    text
}

fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn keyword(value: &Value) -> Option<&str> {
    match value {
        Value::Keyword(k) => Some(k),
        _ => None,
    }
}

/// Parses `{:name value, :name value, ...}`.
fn parse_map(line: &str) -> Result<HashMap<String, Value>, String> {
    let mut chars = line.trim().chars().peekable();
    if chars.next() != Some('{') {
        return Err(format!("expected an event map {{...}}, got {line:?}"));
    }
    let mut fields = HashMap::new();
    loop {
        skip_separators(&mut chars);
        match chars.peek() {
            Some('}') => {
                chars.next();
                break;
            }
            Some(':') => {}
            Some(c) => return Err(format!("expected :name or }}, found {c:?} in {line:?}")),
            None => return Err(format!("unterminated event map: {line:?}")),
        }
        let Value::Keyword(name) = parse_value(&mut chars)? else {
            unreachable!("a value starting with ':' is a keyword")
        };
        skip_separators(&mut chars);
        let value = parse_value(&mut chars)?;
        if fields.insert(name.clone(), value).is_some() {
            return Err(format!(":{name} appears twice in {line:?}"));
        }
    }
    if chars.any(|c| !c.is_whitespace()) {
        return Err(format!("text after the event map in {line:?}"));
    }
    Ok(fields)
}

fn skip_separators(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
}

fn parse_value(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Value, String> {
    match chars.peek().copied() {
        Some(':') => {
            chars.next();
            let mut word = String::new();
            while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || "-_?!*".contains(*c)) {
                word.push(c);
            }
            if word.is_empty() {
                return Err("empty keyword".into());
            }
            Ok(Value::Keyword(word))
        }
        Some('"') => {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some('"') => return Ok(Value::Text(text)),
                    Some('\\') => match chars.next() {
                        Some('n') => text.push('\n'),
                        Some('t') => text.push('\t'),
                        Some(c @ ('"' | '\\')) => text.push(c),
                        other => return Err(format!("unknown escape \\{other:?} in a string")),
                    },
                    Some(c) => text.push(c),
                    None => return Err("unterminated string".into()),
                }
            }
        }
        Some(c) if c.is_ascii_digit() => {
            let mut digits = String::new();
            while let Some(c) = chars.next_if(char::is_ascii_digit) {
                digits.push(c);
            }
            digits
                .parse()
                .map(Value::Int)
                .map_err(|e| format!("bad number {digits}: {e}"))
        }
        Some('n') => {
            let word: String = chars.by_ref().take(3).collect();
            if word == "nil" {
                Ok(Value::Nil)
            } else {
                Err(format!("expected nil, found {word:?}"))
            }
        }
        Some(c) => Err(format!("unexpected {c:?}")),
        None => Err("a value is missing".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::linearizability::{Budget, Verdict, check};

    #[test]
    fn a_state_equals_another_exactly_when_their_texts_do() {
        let built = KvState::default()
            .append("x 0 1 y")
            .append("")
            .append("x 1 1 y");
        let put = KvState::default().append("x 0 1 yx 1 1 y");
        assert_eq!(built, put, "the same text, built differently");
        assert_eq!(built.text(), "x 0 1 yx 1 1 y");
        assert_eq!(KvValue::from("x 0 1 yx 1 1 y").0, built);
        let others = [
            "x 0 1 yx 1 1 z",
            "x 1 1 yx 0 1 y",
            "x 0 1 yx 1 1 y ",
            "",
            "\0",
        ];
        for other in others {
            assert_ne!(KvValue::from(other).0, built, "{other:?}");
            assert_ne!(built, KvState::default().append(other), "{other:?}");
        }
        let grown = KvValue::from("x 0 1 y").extended("x 1 1 y");
        assert_eq!(grown, KvValue::from("x 0 1 yx 1 1 y"));
        assert_eq!(grown.text(), "x 0 1 yx 1 1 y");
        assert_eq!(grown.0, built);
        assert_ne!(
            KvState::default().append("\0"),
            KvState::default().append("\0\0"),
            "zero bytes count"
        );
    }

    #[test]
    fn a_value_of_many_appends_is_rebuilt_and_dropped_without_recursion() {
        let mut state = KvState::default();
        for i in 0..200_000 {
            state = state.append(if i % 2 == 0 { "a" } else { "b" });
        }
        assert_eq!(state.text().len(), 200_000);
        assert!(state.text().starts_with("abab"));
        drop(state);
    }

    #[test]
    fn parses_events_into_operations() {
        let text = r#"{:process 3, :type :invoke, :f :append, :key "4", :value "x 3 17 y"}
{:process 0, :type :invoke, :f :get, :key "4", :value nil}
{:process 3, :type :ok, :f :append, :key "4", :value "x 3 17 y"}
{:process 0, :type :ok, :f :get, :key "4", :value "x 3 17 y"}
"#;
        let ops = parse_history(text).unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!((ops[0].client, ops[0].call, ops[0].ret), (3, 1, 3));
        assert_eq!(ops[1].output, KvOutput::Value("x 3 17 y".into()));
        assert_eq!(
            check(&KvModel, &ops, Budget::default()).verdict,
            Verdict::Linearizable
        );
    }

    #[test]
    fn bad_lines_are_errors_with_their_number() {
        let cases = [
            (
                "{:process 1, :type :ok, :f :get, :key \"k\", :value \"\"}",
                "never invoked",
            ),
            (
                "{:process 1, :type :invoke, :f :cas, :key \"k\", :value \"\"}",
                "unknown operation",
            ),
            (
                "{:process 1, :type :invoke, :f :get, :value nil}",
                "no :key",
            ),
            (
                "{:process 1, :type :invoke, :f :get, :key \"k, :value nil}",
                "unterminated",
            ),
            ("process 1", "expected an event map"),
        ];
        for (line, expected) in cases {
            let text = format!("\n{line}\n");
            let error = parse_history(&text).unwrap_err();
            assert_eq!(error.line, 2, "{line}");
            assert!(error.to_string().contains(expected), "{line}: {error}");
        }
    }

    #[test]
    fn failed_operations_are_dropped_and_indeterminate_ones_stay_open() {
        let text = r#"{:process 1, :type :invoke, :f :put, :key "k", :value "a"}
{:process 1, :type :fail, :f :put, :key "k", :value "a"}
{:process 2, :type :invoke, :f :put, :key "k", :value "b"}
{:process 2, :type :info, :f :put, :key "k", :value "b"}
"#;
        let ops = parse_history(text).unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!((ops[0].client, ops[0].ret), (2, u64::MAX));
    }

    #[test]
    fn a_value_knows_which_states_begin_it() {
        let value = KvValue::from("ab").extended("cde");
        let state = |pieces: &[&str]| {
            pieces
                .iter()
                .fold(KvState::default(), |state, piece| state.append(piece))
        };
        for prefix in [&[][..], &["a"], &["ab", "c"], &["a", "bcd"], &["abcde"]] {
            assert_eq!(value.starts_with(&state(prefix)), Some(true), "{prefix:?}");
        }
        for other in [&["b"][..], &["abd"], &["ab", "cdef"], &["abcde", "", " "]] {
            assert_eq!(value.starts_with(&state(other)), Some(false), "{other:?}");
        }
    }

    #[test]
    fn parsed_values_that_grow_share_their_text() {
        // One client appending to a key and reading it back, 500 times: each
        // value read is the last one extended, so each holds one new piece
        // and the pieces before it are the last value's own.
        let mut text = String::new();
        let mut expected = String::new();
        for i in 0..500 {
            let piece = format!("x 0 {i} y");
            text.push_str(&format!(
                "{{:process 0, :type :invoke, :f :append, :key \"k\", :value \"{piece}\"}}\n\
                 {{:process 0, :type :ok, :f :append, :key \"k\", :value \"{piece}\"}}\n"
            ));
            expected.push_str(&piece);
            text.push_str(&format!(
                "{{:process 0, :type :invoke, :f :get, :key \"k\", :value nil}}\n\
                 {{:process 0, :type :ok, :f :get, :key \"k\", :value \"{expected}\"}}\n"
            ));
        }
        let history = parse_history(&text).unwrap();
        let values: Vec<&KvValue> = history
            .iter()
            .filter_map(|op| match &op.output {
                KvOutput::Value(value) => Some(value),
                _ => None,
            })
            .collect();
        assert_eq!(values.len(), 500);
        for pair in values.windows(2) {
            let (last, next) = (pair[0].0.pieces.as_ref(), pair[1].0.pieces.as_ref());
            let before = next.and_then(|piece| piece.before.as_ref());
            assert!(
                matches!((last, before), (Some(a), Some(b)) if Arc::ptr_eq(a, b)),
                "a value that extends the last one shares its pieces"
            );
        }
        assert_eq!(values[499].text(), expected);
        assert_eq!(
            check(&KvModel, &history, Budget::default()).verdict,
            Verdict::Linearizable
        );
    }

    /// The key/value model without its look-ahead.
    struct NoLookAhead;

    impl Model for NoLookAhead {
        type State = KvState;
        type Input = KvInput;
        type Output = KvOutput;
        fn init(&self) -> KvState {
            KvModel.init()
        }
        fn step(&self, state: &KvState, input: &KvInput, output: &KvOutput) -> Option<KvState> {
            KvModel.step(state, input, output)
        }
        fn describe_operation(&self, input: &KvInput, output: &KvOutput) -> String {
            KvModel.describe_operation(input, output)
        }
        fn describe_state(&self, state: &KvState) -> String {
            KvModel.describe_state(state)
        }
    }

    /// Sixty appends to one key, each overlapping the next two (never more
    /// than three at once), then a get that saw them with each pair swapped:
    /// the shape of a partition's end, when clerks that waited out a
    /// leaderless spell retry together. `skip` leaves one append out of what
    /// the get saw.
    fn run_of_appends<M: Model<Input = KvInput, Output = KvOutput>>(
        skip: Option<usize>,
    ) -> Vec<Operation<M>> {
        const N: u64 = 60;
        let value = |i: u64| format!("x {i} 0 y");
        let mut history: Vec<Operation<M>> = (0..N)
            .map(|i| Operation {
                client: usize::try_from(i).unwrap(),
                input: KvInput::Append {
                    key: "k".into(),
                    value: value(i),
                },
                call: 10 * i,
                output: KvOutput::Done,
                ret: 10 * i + 25,
            })
            .collect();
        let seen: String = (0..N)
            .map(|i| i ^ 1)
            .filter(|&i| Some(usize::try_from(i).unwrap()) != skip)
            .map(value)
            .collect();
        history.push(Operation {
            client: 99,
            input: KvInput::Get { key: "k".into() },
            call: 10 * N + 30,
            output: KvOutput::Value(seen.into()),
            ret: 10 * N + 31,
        });
        history
    }

    #[test]
    fn a_run_of_appends_seen_only_at_its_end_is_ordered_by_what_was_seen() {
        let budget = Budget {
            time: Duration::from_secs(60),
            max_states: 100_000,
        };
        // Without the look-ahead the search tries the run's orders one by
        // one (about 1.6^60 of them) before the get refutes them.
        let blind = check(&NoLookAhead, &run_of_appends(None), budget);
        assert_eq!(blind.verdict, Verdict::Unknown);
        let report = check(&KvModel, &run_of_appends(None), budget);
        assert_eq!(report.verdict, Verdict::Linearizable);

        // An append that completed before the get, missing from its value:
        // the report places it after the 31 the get saw before it, and shows
        // that the get cannot follow.
        let history = run_of_appends(Some(30));
        let report = check(&KvModel, &history, budget);
        assert_eq!(report.verdict, Verdict::Illegal);
        let text = report.describe(&KvModel, &history);
        assert!(
            text.contains("the longest linearizable prefix has 32 of its 61 operations")
                && text.contains("then no order fits client 99's get"),
            "{text}"
        );
    }

    #[test]
    fn formatting_reproduces_the_parsed_text() {
        let text = r#"{:process 0, :type :invoke, :f :put, :key "k", :value "a\"b"}
{:process 1, :type :invoke, :f :get, :key "k", :value nil}
{:process 0, :type :ok, :f :put, :key "k", :value "a\"b"}
{:process 1, :type :ok, :f :get, :key "k", :value "a\"b"}
"#;
        let ops = parse_history(text).unwrap();
        assert_eq!(format_history(&ops), text);
    }
}
