//! The shape of the code, kept: layers point one way, no two files of a module lean on each
//! other in a circle, and every `unsafe` says why it is sound.
//! Read from the sources themselves, so a change that breaks the shape fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path (`["proc", "scan", "read"]`) and its source, for every file under src/.
fn sources() -> BTreeMap<Vec<String>, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeMap::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file");
                found.insert(module_of(&root, &path), text);
            }
        }
    }
    found
}

fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let relative: PathBuf = file
        .strip_prefix(root)
        .expect("under src/")
        .with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The text without a trailing `#[cfg(test)] mod tests { … }` (tests may reach anywhere).
fn product_code(text: &str) -> &str {
    text.find("#[cfg(test)]\nmod tests {")
        .map_or(text, |at| &text[..at])
}

/// Every `crate::…` and `super::…` path in `text`, as the module it names (the longest prefix
/// that is a module), seen from module `from`. A group (`super::{a, b::c}`) names each of its
/// paths.
fn modules_named(
    from: &[String],
    text: &str,
    modules: &BTreeSet<Vec<String>>,
) -> BTreeSet<Vec<String>> {
    let mut named = BTreeSet::new();
    let bytes = text.as_bytes();
    for start in ["crate::", "super::"] {
        let mut at = 0;
        while let Some(found) = text[at..].find(start) {
            let begin = at + found;
            at = begin + start.len();
            let preceded =
                begin > 0 && (bytes[begin - 1].is_ascii_alphanumeric() || bytes[begin - 1] == b'_');
            if preceded {
                continue;
            }
            for path in expand("", &text[begin..]) {
                if let Some(target) = resolve(from, &path, modules) {
                    named.insert(target);
                }
            }
        }
    }
    named
}

/// The paths `text` starts with, after `prefix`: one, or one for each item of a `{…}` group
/// (nested groups too; `self` names the prefix; `as` renames do not matter here).
fn expand(prefix: &str, text: &str) -> Vec<String> {
    let path: String = text
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    let whole = format!("{prefix}{path}");
    let Some(group) = text[path.len()..].strip_prefix('{') else {
        return vec![whole.trim_end_matches(':').to_string()];
    };
    let mut depth = 0;
    let mut items = vec![String::new()];
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(String::new());
                continue;
            }
            _ => {}
        }
        items.last_mut().expect("an item").push(c);
    }
    items
        .iter()
        .map(|item| item.trim())
        .filter(|item| !item.is_empty())
        .flat_map(|item| match item {
            "self" => vec![whole.trim_end_matches(':').to_string()],
            item => expand(&whole, item),
        })
        .collect()
}

/// The module a path names from module `from`: the longest prefix of it that is a module.
fn resolve(from: &[String], path: &str, modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<String> = if segments.first() == Some(&"crate") {
        segments.remove(0);
        Vec::new()
    } else {
        // `super` of a file is its parent module's parent: a file's own module is itself.
        let mut base = from.to_vec();
        while segments.first() == Some(&"super") {
            segments.remove(0);
            base.pop();
        }
        base
    };
    for len in (1..=segments.len()).rev() {
        let mut candidate = base.clone();
        candidate.extend(segments[..len].iter().map(|s| s.to_string()));
        if modules.contains(&candidate) {
            return Some(candidate);
        }
    }
    (!base.is_empty()).then(|| std::mem::take(&mut base))
}

#[test]
fn a_group_names_each_of_its_paths() {
    assert_eq!(expand("", "super::format;"), ["super::format"]);
    assert_eq!(
        expand("", "super::{footer, format::{clock, self}, header as h};"),
        [
            "super::footer",
            "super::format::clock",
            "super::format",
            "super::header"
        ]
    );
}

/// Which top-level modules each may name: the layers, lowest first.
fn allowed(top: &str) -> &'static [&'static str] {
    match top {
        "proc" | "signals" => &["proc", "signals"],
        "lab" => &["proc", "signals", "lab"],
        "history" => &["proc", "signals", "history"],
        "message" => &["proc", "signals", "lab", "history", "message"],
        "app" => &["proc", "signals", "lab", "history", "message", "app"],
        "ui" => &["proc", "signals", "lab", "history", "message", "app", "ui"],
        // The edges main calls: each on the process model, with its command-line arguments.
        "snapshot" => &["proc", "signals", "cli", "snapshot"],
        "exporter" => &["proc", "signals", "cli", "exporter"],
        "events_cli" => &["proc", "signals", "cli", "events_cli"],
        // `brood export`: a recording read and told by the history, with its arguments.
        "export" => &["proc", "signals", "history", "cli", "export"],
        "cli" => &["lab", "cli"],
        // `brood --man`: the options (cli), and keys, states, badges and scenarios from their code.
        "man" => &["proc", "signals", "lab", "app", "cli", "man"],
        "config" => &["app", "config"],
        "runtime" => &[
            "proc", "signals", "lab", "history", "message", "app", "ui", "cli", "config", "runtime",
        ],
        _ => &[],
    }
}

#[test]
fn layers_point_one_way() {
    let sources = sources();
    let modules: BTreeSet<Vec<String>> = sources.keys().cloned().collect();
    let mut wrong = Vec::new();
    for (module, text) in &sources {
        let Some(top) = module.first() else {
            continue; // lib.rs and main.rs wire everything together
        };
        for named in modules_named(module, product_code(text), &modules) {
            let Some(target) = named.first() else {
                continue;
            };
            if !allowed(top).contains(&target.as_str()) {
                wrong.push(format!("{} names {}", module.join("::"), named.join("::")));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "a lower layer names a higher one:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_files_of_a_module_lean_on_each_other_in_a_circle() {
    let sources = sources();
    let modules: BTreeSet<Vec<String>> = sources.keys().cloned().collect();
    // Edges between siblings only: a parent and its children depend on each other by nature.
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, text) in &sources {
        for named in modules_named(module, product_code(text), &modules) {
            let siblings = !module.is_empty()
                && named.len() == module.len()
                && named[..named.len() - 1] == module[..module.len() - 1];
            if siblings && &named != module {
                edges.entry(module.clone()).or_default().insert(named);
            }
        }
    }
    // Depth-first search for a way back to where it started.
    for start in edges.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, path)) = stack.pop() {
            for next in edges.get(&at).into_iter().flatten() {
                if next == start {
                    let circle: Vec<String> = path.iter().map(|m| m.join("::")).collect();
                    panic!("a circle: {} -> {}", circle.join(" -> "), start.join("::"));
                }
                if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
}

#[test]
fn every_unsafe_block_says_why_it_is_sound() {
    let mut unexplained = Vec::new();
    for (module, text) in sources() {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let opens_unsafe = code.contains("unsafe {")
                || code.contains("unsafe fn ")
                || code.contains("unsafe impl");
            if !opens_unsafe {
                continue;
            }
            // The reason is on the comment lines just above (or on the line itself).
            let explained = lines[..=i]
                .iter()
                .rev()
                .take(6)
                .any(|l| l.contains("SAFETY:"));
            if !explained {
                unexplained.push(format!("{}:{}: {}", module.join("::"), i + 1, line.trim()));
            }
        }
    }
    assert!(
        unexplained.is_empty(),
        "unsafe without a SAFETY comment:\n{}",
        unexplained.join("\n")
    );
}
#[test]
fn no_file_is_over_600_lines() {
    let long: Vec<String> = sources()
        .iter()
        .filter(|(_, text)| text.lines().count() > 600)
        .map(|(module, text)| format!("{} ({} lines)", module.join("::"), text.lines().count()))
        .collect();
    assert!(long.is_empty(), "split along their seams: {long:?}");
}
