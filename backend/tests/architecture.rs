//! The house rules that keep the tree readable, checked on the sources themselves: no source file
//! (its unit tests included) grows past 600 lines, and the modules of the HTTP layer and of the workspace client never
//! import each other in a circle (a module with one job depends on others, not back on itself).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The source without its `#[cfg(test)]` module (always last in our files) and comments.
fn production_code(source: &str) -> String {
    let code = match source.find("#[cfg(test)]") {
        Some(at) => &source[..at],
        None => source,
    };
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn no_source_file_is_longer_than_600_lines() {
    let root = repository();
    let mut files = Vec::new();
    for crate_dir in ["shared/src", "backend/src", "frontend/src"] {
        rust_files(&root.join(crate_dir), &mut files);
    }
    assert!(files.len() > 50, "found the sources: {}", files.len());
    let too_long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let source = std::fs::read_to_string(file).expect("read a source file");
            let lines = source.lines().count();
            (lines > MAX_LINES).then(|| {
                format!(
                    "{} ({lines})",
                    file.strip_prefix(&root).unwrap_or(file).display()
                )
            })
        })
        .collect();
    assert!(
        too_long.is_empty(),
        "split by concern: {}",
        too_long.join(", ")
    );
}

/// Which sibling modules each module of `dir` (known as `module_path` in the crate) uses.
fn sibling_uses(dir: &Path, module_path: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    for entry in std::fs::read_dir(dir)
        .expect("read the module folder")
        .flatten()
    {
        let path = entry.path();
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .expect("a file name")
            .to_owned();
        if name == "mod" {
            continue;
        }
        let mut files = Vec::new();
        if path.is_dir() {
            rust_files(&path, &mut files);
        } else {
            files.push(path);
        }
        let text: String = files
            .iter()
            .map(|f| production_code(&std::fs::read_to_string(f).expect("read a source file")))
            .collect();
        sources.entry(name).or_default().push_str(&text);
    }
    let names: Vec<String> = sources.keys().cloned().collect();
    sources
        .iter()
        .map(|(module, text)| {
            let uses = names
                .iter()
                .filter(|other| *other != module)
                .filter(|other| {
                    let tokens = [format!("super::{other}"), format!("{module_path}::{other}")];
                    tokens.iter().any(|t| mentions(text, t)) || mentions_in_super_group(text, other)
                })
                .cloned()
                .collect();
            (module.clone(), uses)
        })
        .collect()
}

/// True when `token` occurs as a whole path segment (not as the start of a longer name).
fn mentions(text: &str, token: &str) -> bool {
    text.match_indices(token).any(|(at, _)| {
        let next = text[at + token.len()..].chars().next();
        !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// `use super::{a, b::C}` names `a` and `b` too.
fn mentions_in_super_group(text: &str, module: &str) -> bool {
    text.match_indices("super::{").any(|(at, _)| {
        let group = &text[at + "super::{".len()..];
        let group = &group[..group.find('}').unwrap_or(group.len())];
        group
            .split(',')
            .any(|item| item.trim().split("::").next() == Some(module))
    })
}

fn cycle(uses: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        uses: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut found = path[at..].to_vec();
            found.push(module.to_owned());
            return Some(found);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for next in uses.get(module).into_iter().flatten() {
            if let Some(found) = visit(next, uses, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    uses.keys()
        .find_map(|module| visit(module, uses, &mut Vec::new(), &mut done))
}

#[test]
fn the_http_and_workspace_modules_import_no_cycle() {
    let root = repository();
    for (dir, module_path) in [
        ("backend/src/http", "crate::http"),
        ("backend/src/workspace", "crate::workspace"),
    ] {
        let uses = sibling_uses(&root.join(dir), module_path);
        assert!(uses.len() > 5, "{dir} has its modules: {uses:?}");
        assert!(
            uses.values().any(|u| !u.is_empty()),
            "{dir}: the scan finds imports at all"
        );
        if let Some(found) = cycle(&uses) {
            panic!(
                "{dir}: modules import each other in a circle: {}",
                found.join(" → ")
            );
        }
    }
}

#[test]
fn the_cycle_check_finds_a_circle() {
    let uses: BTreeMap<String, BTreeSet<String>> = [
        ("error", vec!["traffic"]),
        ("traffic", vec!["json", "error"]),
        ("json", vec![]),
    ]
    .into_iter()
    .map(|(m, u)| (m.to_owned(), u.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(
        cycle(&uses),
        Some(vec!["error".into(), "traffic".into(), "error".into()])
    );
    assert!(mentions_in_super_group(
        "use super::{error::ApiError, json};",
        "json"
    ));
    assert!(!mentions("use super::errors;", "super::error"));
}
