//! Small source edits by search and replace: how a planted bug (`mutants/`)
//! or a cheating submission (`scripts/redteam/`) is written down.
//!
//! An edit names a file, a piece of its text and what replaces it. The text
//! must occur exactly once, so an edit either lands where it was meant to or
//! fails with a message saying why; line numbers are not used, so edits
//! survive changes elsewhere in the file.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One search-and-replace in one file (`[[edit]]` in a TOML file).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// The file, relative to the checkout's root.
    pub file: PathBuf,
    /// Text that occurs exactly once in the file.
    pub find: String,
    /// What takes its place.
    pub replace: String,
}

/// Makes `edits`, in order, to the files under `root`.
///
/// # Errors
/// When a file cannot be read or written, or an edit's text does not occur
/// exactly once in it (the file is then left as the edits before it made
/// it); the message names the file and the text.
pub fn apply(root: &Path, edits: &[Edit]) -> Result<(), String> {
    for edit in edits {
        let path = root.join(&edit.file);
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", edit.file.display()))?;
        let found = text.matches(&edit.find).count();
        if found != 1 {
            return Err(format!(
                "{}: the text to replace must occur exactly once, found {found} times: {:?}",
                edit.file.display(),
                edit.find
            ));
        }
        fs::write(&path, text.replacen(&edit.find, &edit.replace, 1))
            .map_err(|e| format!("cannot write {}: {e}", edit.file.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("labtools-edit-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn edit(find: &str, replace: &str) -> Edit {
        Edit {
            file: "a.rs".into(),
            find: find.into(),
            replace: replace.into(),
        }
    }

    #[test]
    fn edits_apply_in_order() {
        let dir = scratch("order");
        fs::write(dir.join("a.rs"), "let x = 1;\nlet y = 2;\n").unwrap();
        apply(
            &dir,
            &[
                edit("x = 1", "x = 3"),
                edit("x = 3;\nlet y", "x = 4;\nlet z"),
            ],
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("a.rs")).unwrap(),
            "let x = 4;\nlet z = 2;\n"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_or_repeated_text_is_an_error() {
        let dir = scratch("errors");
        fs::write(dir.join("a.rs"), "f(); f();\n").unwrap();
        let missing = apply(&dir, &[edit("g()", "h()")]).unwrap_err();
        assert!(missing.contains("found 0 times"), "{missing}");
        let repeated = apply(&dir, &[edit("f()", "h()")]).unwrap_err();
        assert!(repeated.contains("found 2 times"), "{repeated}");
        assert_eq!(fs::read_to_string(dir.join("a.rs")).unwrap(), "f(); f();\n");
        let no_file = apply(
            &dir,
            &[Edit {
                file: "b.rs".into(),
                ..edit("f", "g")
            }],
        )
        .unwrap_err();
        assert!(no_file.starts_with("cannot read b.rs"), "{no_file}");
        fs::remove_dir_all(dir).unwrap();
    }
}
