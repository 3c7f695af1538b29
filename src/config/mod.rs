//! The configuration: shipped defaults (`assets/default-config.toml`) with the user's file laid
//! over them, every entry optional. Each entry is checked on its own: a mistake is reported with
//! the file, its line and the problem, that entry keeps its default, and every other entry still
//! counts. A config file is small: one larger than a mebibyte is refused unread.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use strum::VariantArray;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::app::ThemeName;
use crate::app::keymap::{Key, KeyNames, Keymap, default_names};
use crate::app::sort::Column;

/// The largest config file read.
const MAX_BYTES: u64 = 1 << 20;
/// The longest piece of a value quoted back in an error.
const QUOTE_CHARS: usize = 40;

/// The configuration brood runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub refresh: Duration,
    pub theme: ThemeName,
    pub mouse: bool,
    pub columns: Vec<Column>,
    pub auto_reap: bool,
    pub subreaper: bool,
    /// Each action's key names, in every layer: defaults merged with the file's.
    pub keys: KeyNames,
    pub keymap: Keymap,
}

/// A mistake in a config file: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    /// 1-based; `None` when the whole file is at fault (unreadable).
    pub line: Option<usize>,
    pub problem: String,
}

impl ConfigError {
    /// What brood does about it: the entry keeps its default, or (the file unreadable) every
    /// setting does.
    pub fn consequence(&self) -> &'static str {
        match self.line {
            Some(_) => "that entry keeps its default",
            None => "running on the defaults",
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} line {line}: {}", self.file, self.problem),
            None => write!(f, "{}: {}", self.file, self.problem),
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            refresh: Duration::from_secs(1),
            theme: ThemeName::Dark,
            mouse: true,
            columns: crate::app::sort::DEFAULT_COLUMNS.to_vec(),
            auto_reap: false,
            subreaper: false,
            keys: default_names(),
            keymap: Keymap::default(),
        }
    }
}

/// One binding as written: its `[keys.SECTION]` (`None`: `[keys]`), action and list of keys.
type KeyEntry<'t, 'i> = (
    Option<String>,
    &'t Spanned<std::borrow::Cow<'i, str>>,
    &'t Spanned<DeValue<'i>>,
);

/// Collects the mistakes of one file, each with its line.
struct Problems<'a> {
    text: &'a str,
    file: &'a str,
    found: Vec<ConfigError>,
}

impl Problems<'_> {
    fn at(&mut self, offset: Option<usize>, problem: String) {
        let line = offset.map(|o| self.text[..o.min(self.text.len())].matches('\n').count() + 1);
        self.found.push(ConfigError {
            file: self.file.to_string(),
            line,
            problem,
        });
    }
}

impl Config {
    /// The user's config text over the shipped defaults; `file` names it in errors. Every entry
    /// that is right is taken, whatever mistakes the others hold.
    pub fn parse(text: &str, file: &str) -> (Config, Vec<ConfigError>) {
        let mut config = Config::default();
        let mut problems = Problems {
            text,
            file,
            found: Vec::new(),
        };
        let (table, syntax) = DeTable::parse_recoverable(text);
        for error in syntax {
            let offset = error.span().map(|s| s.start);
            problems.at(offset, error.message().trim().replace('\n', " "));
        }
        for (section, value) in table.get_ref() {
            let at = Some(section.span().start);
            match (section.get_ref().as_ref(), value.get_ref()) {
                ("general", DeValue::Table(entries)) => {
                    for (name, value) in entries {
                        config.set_general(name, value, &mut problems);
                    }
                }
                ("lab", DeValue::Table(entries)) => {
                    for (name, value) in entries {
                        let flag = match name.get_ref().as_ref() {
                            "auto_reap" => &mut config.auto_reap,
                            "subreaper" => &mut config.subreaper,
                            other => {
                                problems.at(
                                    Some(name.span().start),
                                    format!("unknown setting lab.{}", quote(other)),
                                );
                                continue;
                            }
                        };
                        match value.get_ref().as_bool() {
                            Some(on) => *flag = on,
                            None => problems.at(
                                Some(value.span().start),
                                format!("lab.{} is true or false", name.get_ref()),
                            ),
                        }
                    }
                }
                ("keys", DeValue::Table(entries)) => config.set_keys(entries, &mut problems),
                ("general" | "lab" | "keys", _) => {
                    problems.at(at, format!("{} must be a [section]", section.get_ref()))
                }
                (other, _) => problems.at(at, format!("unknown section {}", quote(other))),
            }
        }
        // Every entry was checked as it was taken: the table builds.
        if let Ok(keymap) = Keymap::build(&config.keys) {
            config.keymap = keymap;
        }
        let mut found = problems.found;
        found.sort_by_key(|e| e.line);
        (config, found)
    }

    fn set_general(
        &mut self,
        name: &Spanned<std::borrow::Cow<'_, str>>,
        value: &Spanned<DeValue<'_>>,
        problems: &mut Problems<'_>,
    ) {
        let at = Some(value.span().start);
        match name.get_ref().as_ref() {
            "refresh" => match number(value.get_ref()) {
                Some(secs) if (0.1..=3600.0).contains(&secs) => {
                    self.refresh = Duration::from_secs_f64(secs);
                }
                Some(secs) => problems.at(
                    at,
                    format!("refresh = {secs} is out of range: use 0.1 to 3600 seconds"),
                ),
                None => problems.at(at, "refresh is a number of seconds, 0.1 to 3600".into()),
            },
            "theme" => match value.get_ref().as_str().map(str::parse) {
                Some(Ok(theme)) => self.theme = theme,
                found => {
                    let names: Vec<&str> = ThemeName::VARIANTS.iter().map(|t| t.name()).collect();
                    let what = found
                        .and(value.get_ref().as_str())
                        .map_or_else(|| "a theme".to_string(), quote);
                    problems.at(
                        at,
                        format!("unknown theme {what}: use {}", names.join(", ")),
                    );
                }
            },
            "mouse" => match value.get_ref().as_bool() {
                Some(on) => self.mouse = on,
                None => problems.at(at, "mouse is true or false".into()),
            },
            "columns" => match strings(value.get_ref()) {
                Some(names) => match columns(&names) {
                    Ok(columns) => self.columns = columns,
                    Err(problem) => problems.at(at, problem),
                },
                None => problems.at(at, "columns is a list of column names".into()),
            },
            other => problems.at(
                Some(name.span().start),
                format!("unknown setting general.{}", quote(other)),
            ),
        }
    }

    /// `[keys]` and its sections: each action's list of keys, checked one entry at a time, in
    /// the file's order. An entry that would bind a key twice, or leave no way out, is refused
    /// and keeps its default; the others stand.
    fn set_keys(&mut self, entries: &DeTable<'_>, problems: &mut Problems<'_>) {
        let mut bindings: Vec<KeyEntry<'_, '_>> = Vec::new();
        for (name, value) in entries {
            match value.get_ref() {
                DeValue::Table(section) => {
                    bindings.extend(
                        section
                            .iter()
                            .map(|(action, keys)| (Some(name.get_ref().to_string()), action, keys)),
                    );
                }
                _ => bindings.push((None, name, value)),
            }
        }
        bindings.sort_by_key(|(_, action, _)| action.span().start);
        for (section, action, keys) in bindings {
            let at = Some(action.span().start);
            let Some(layer) = self.keys.layer_mut(section.as_deref()) else {
                problems.at(
                    at,
                    format!(
                        "unknown key section {}",
                        quote(section.as_deref().unwrap_or_default())
                    ),
                );
                continue;
            };
            let Some(names) = key_names(keys, problems) else {
                continue;
            };
            let Some(before) = layer
                .actions
                .iter()
                .find(|(name, _)| *name == action.get_ref().as_ref())
                .map(|(_, keys)| keys.clone())
            else {
                let place = section.map_or_else(String::new, |s| format!(" in [keys.{s}]"));
                problems.at(
                    at,
                    format!("unknown action {}{place}", quote(action.get_ref())),
                );
                continue;
            };
            layer.set(action.get_ref(), names);
            if let Err(problem) = Keymap::build(&self.keys) {
                problems.at(at, format!("{problem}; this entry is ignored"));
                if let Some(layer) = self.keys.layer_mut(section.as_deref()) {
                    layer.set(action.get_ref(), before);
                }
            }
        }
    }

    /// Where the config file is looked for: `$XDG_CONFIG_HOME/brood/config.toml`, else
    /// `~/.config/brood/config.toml`.
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|home| PathBuf::from(home).join(".config"))
            })?;
        Some(base.join("brood").join("config.toml"))
    }

    /// The config from `explicit` (`--config`), or the default path when it exists, with the
    /// mistakes found in it (an unreadable or oversized file is one mistake: the defaults).
    pub fn load(explicit: Option<&Path>) -> (Config, Vec<ConfigError>) {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None => match Config::default_path() {
                Some(path) if path.exists() => path,
                _ => return (Config::default(), Vec::new()),
            },
        };
        let file = path.display().to_string();
        match read_small(&path) {
            Ok(text) => Config::parse(&text, &file),
            Err(problem) => (
                Config::default(),
                vec![ConfigError {
                    file,
                    line: None,
                    problem,
                }],
            ),
        }
    }

    /// The effective configuration as a config file (for `--print-config`).
    pub fn to_toml(&self) -> String {
        let list = |items: &[String]| {
            let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
            format!("[{}]", quoted.join(", "))
        };
        let columns: Vec<String> = self.columns.iter().map(|c| c.name().to_string()).collect();
        let mut out = String::new();
        out.push_str("[general]\n");
        out.push_str(&format!("refresh = {}\n", self.refresh.as_secs_f64()));
        out.push_str(&format!("theme = {:?}\n", self.theme.name()));
        out.push_str(&format!("mouse = {}\n", self.mouse));
        out.push_str(&format!("columns = {}\n", list(&columns)));
        out.push_str("\n[lab]\n");
        out.push_str(&format!("auto_reap = {}\n", self.auto_reap));
        out.push_str(&format!("subreaper = {}\n", self.subreaper));
        for layer in &self.keys.0 {
            match layer.section {
                None => out.push_str("\n[keys]\n"),
                Some(section) => out.push_str(&format!("\n[keys.{section}]\n")),
            }
            for (action, keys) in &layer.actions {
                out.push_str(&format!("{action} = {}\n", list(keys)));
            }
        }
        out
    }
}

/// The file's text, if it is a readable UTF-8 file of at most [`MAX_BYTES`].
fn read_small(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|err| format!("cannot read it: {err}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("cannot read it: {err}"))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!(
            "larger than {} KiB, which no config file is; not read",
            MAX_BYTES >> 10
        ));
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())
}

/// A value quoted briefly: at most [`QUOTE_CHARS`] characters, control characters escaped.
fn quote(value: &str) -> String {
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(QUOTE_CHARS).collect();
    let cut = if chars.next().is_some() { "…" } else { "" };
    format!("{:?}", format!("{head}{cut}"))
}

fn number(value: &DeValue<'_>) -> Option<f64> {
    let text = match value {
        DeValue::Float(float) => float.as_str(),
        DeValue::Integer(int) if int.radix() == 10 => int.as_str(),
        _ => return None,
    };
    text.replace('_', "")
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
}

fn strings(value: &DeValue<'_>) -> Option<Vec<String>> {
    match value {
        DeValue::Array(items) => items
            .iter()
            .map(|item| item.get_ref().as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

/// A list of key names, each one checked; `None` (the problem reported) if any is wrong.
fn key_names(value: &Spanned<DeValue<'_>>, problems: &mut Problems<'_>) -> Option<Vec<String>> {
    let at = Some(value.span().start);
    let Some(names) = strings(value.get_ref()) else {
        problems.at(
            at,
            "a key binding is a list of key names, like [\"q\"]".into(),
        );
        return None;
    };
    for name in &names {
        if let Err(problem) = Key::parse(name) {
            let brief = problem.replace(&format!("{name:?}"), &quote(name));
            problems.at(at, brief);
            return None;
        }
    }
    Some(names)
}

fn columns(names: &[String]) -> Result<Vec<Column>, String> {
    let mut parsed = Vec::new();
    for name in names {
        let column = name.parse::<Column>().map_err(|_| {
            let known: Vec<&str> = Column::VARIANTS.iter().map(|c| c.name()).collect();
            format!("unknown column {}: use {}", quote(name), known.join(", "))
        })?;
        if parsed.contains(&column) {
            return Err(format!("column {} is listed twice", quote(name)));
        }
        parsed.push(column);
    }
    // The command holds the tree: always there, always last.
    parsed.retain(|&c| c != Column::Command);
    parsed.push(Column::Command);
    Ok(parsed)
}

#[cfg(test)]
mod tests;
