//! Walking a checkout's files, for the tools that copy one (the grader's
//! copy of a submission, the handout).

use std::fs;
use std::path::{Path, PathBuf};

/// Every file under `root`, as paths relative to it, in name order; build
/// directories (`target`) are skipped at any depth, and the top-level
/// entries named in `skip` too.
///
/// # Errors
/// When a directory cannot be read; the message names it.
pub fn files(root: &Path, skip: &[&str]) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    walk(root, Path::new(""), skip, &mut found)?;
    Ok(found)
}

fn walk(root: &Path, dir: &Path, skip: &[&str], found: &mut Vec<PathBuf>) -> Result<(), String> {
    let full = root.join(dir);
    let mut entries: Vec<_> = fs::read_dir(&full)
        .and_then(|entries| entries.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read {}: {e}", full.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let top_level_skip = dir.as_os_str().is_empty() && skip.iter().any(|s| name == *s);
        if name == "target" || top_level_skip {
            continue;
        }
        let relative = dir.join(&name);
        if entry.path().is_dir() {
            walk(root, &relative, skip, found)?;
        } else {
            found.push(relative);
        }
    }
    Ok(())
}

/// Copies `relative` from under `from` to the same place under `to`,
/// creating directories as needed.
///
/// # Errors
/// When the file cannot be copied; the message names both paths.
pub fn copy(from: &Path, to: &Path, relative: &Path) -> Result<(), String> {
    let (source, target) = (from.join(relative), to.join(relative));
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    fs::copy(&source, &target).map(|_| ()).map_err(|e| {
        format!(
            "cannot copy {} to {}: {e}",
            source.display(),
            target.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_files_skipping_build_directories_and_named_top_level_entries() {
        let root = std::env::temp_dir().join(format!("labtools-tree-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for file in [
            "a.rs",
            "x/b.rs",
            "x/target/built",
            "target/built",
            ".ci/run",
            "y/.ci",
        ] {
            let path = root.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, file).unwrap();
        }
        let found = files(&root, &[".ci"]).unwrap();
        assert_eq!(found, ["a.rs", "x/b.rs", "y/.ci"].map(PathBuf::from));
        let copied = root.join("copy");
        copy(&root, &copied, Path::new("x/b.rs")).unwrap();
        assert_eq!(fs::read_to_string(copied.join("x/b.rs")).unwrap(), "x/b.rs");
        fs::remove_dir_all(&root).unwrap();
    }
}
