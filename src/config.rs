//! The configuration: shipped defaults (`assets/default-config.toml`) with the user's file laid
//! over them, every entry optional. A file with a mistake is rejected whole with one sentence
//! naming the file, the line and the problem; brood then runs on the defaults and says so.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::app::ThemeName;
use crate::app::keymap::{Action, DEFAULT_CONFIG, Key, Keymap};
use crate::app::sort::Column;

/// The configuration brood runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub refresh: Duration,
    pub theme: ThemeName,
    pub mouse: bool,
    pub columns: Vec<Column>,
    pub auto_reap: bool,
    pub subreaper: bool,
    /// Each action's key names, defaults merged with the file's, in help-screen order.
    pub keys: Vec<(Action, Vec<String>)>,
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

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} line {line}: {}", self.file, self.problem),
            None => write!(f, "{}: {}", self.file, self.problem),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    general: RawGeneral,
    #[serde(default)]
    lab: RawLab,
    #[serde(default)]
    keys: BTreeMap<Spanned<String>, Spanned<Vec<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGeneral {
    refresh: Option<Spanned<f64>>,
    theme: Option<Spanned<String>>,
    mouse: Option<bool>,
    columns: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLab {
    auto_reap: Option<bool>,
    subreaper: Option<bool>,
}

impl Default for Config {
    fn default() -> Config {
        Config::parse_over(Config::bare(), DEFAULT_CONFIG, "the shipped defaults")
            .unwrap_or_else(|e| panic!("the shipped config is broken: {e}"))
    }
}

impl Config {
    /// Values before any file, for the shipped defaults to fill in.
    fn bare() -> Config {
        Config {
            refresh: Duration::from_secs(1),
            theme: ThemeName::Dark,
            mouse: true,
            columns: crate::app::sort::DEFAULT_COLUMNS.to_vec(),
            auto_reap: false,
            subreaper: false,
            keys: Action::ALL.iter().map(|&a| (a, Vec::new())).collect(),
            keymap: Keymap::default(),
        }
    }

    /// The user's config text over the shipped defaults; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        Config::parse_over(Config::default(), text, file)
    }

    fn parse_over(mut config: Config, text: &str, file: &str) -> Result<Config, ConfigError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let error = |offset: Option<usize>, problem: String| ConfigError {
            file: file.to_string(),
            line: offset.map(line_of),
            problem,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            error(
                e.span().map(|s| s.start),
                e.message().trim().replace('\n', " "),
            )
        })?;

        if let Some(refresh) = raw.general.refresh {
            let secs = *refresh.get_ref();
            if !(0.1..=3600.0).contains(&secs) {
                return Err(error(
                    Some(refresh.span().start),
                    format!("refresh = {secs} is out of range: use 0.1 to 3600 seconds"),
                ));
            }
            config.refresh = Duration::from_secs_f64(secs);
        }
        if let Some(theme) = raw.general.theme {
            config.theme = ThemeName::parse(theme.get_ref()).ok_or_else(|| {
                let names: Vec<&str> = ThemeName::ALL.iter().map(|t| t.name()).collect();
                error(
                    Some(theme.span().start),
                    format!(
                        "unknown theme {:?}: use {}",
                        theme.get_ref(),
                        names.join(", ")
                    ),
                )
            })?;
        }
        if let Some(mouse) = raw.general.mouse {
            config.mouse = mouse;
        }
        if let Some(columns) = raw.general.columns {
            let at = Some(columns.span().start);
            let mut parsed = Vec::new();
            for name in columns.get_ref() {
                let column = Column::parse(name).ok_or_else(|| {
                    let names: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
                    error(
                        at,
                        format!("unknown column {name:?}: use {}", names.join(", ")),
                    )
                })?;
                if parsed.contains(&column) {
                    return Err(error(at, format!("column {name:?} is listed twice")));
                }
                parsed.push(column);
            }
            // The command holds the tree: always there, always last.
            parsed.retain(|&c| c != Column::Command);
            parsed.push(Column::Command);
            config.columns = parsed;
        }
        if let Some(auto_reap) = raw.lab.auto_reap {
            config.auto_reap = auto_reap;
        }
        if let Some(subreaper) = raw.lab.subreaper {
            config.subreaper = subreaper;
        }

        let mut last_key_line = None;
        for (name, keys) in &raw.keys {
            let at = Some(name.span().start);
            let action = Action::ALL
                .into_iter()
                .find(|a| a.name() == name.get_ref())
                .ok_or_else(|| error(at, format!("unknown action {:?}", name.get_ref())))?;
            for key in keys.get_ref() {
                Key::parse(key).map_err(|problem| error(Some(keys.span().start), problem))?;
            }
            if let Some(slot) = config.keys.iter_mut().find(|(a, _)| *a == action) {
                slot.1 = keys.get_ref().clone();
            }
            last_key_line = last_key_line.max(at);
        }
        let overrides: BTreeMap<String, Vec<String>> = config
            .keys
            .iter()
            .map(|(a, keys)| (a.name().to_string(), keys.clone()))
            .collect();
        config.keymap = Keymap::with_overrides(&overrides).map_err(|problem| {
            // A key bound twice: the line of the binding that made it so.
            let line = raw
                .keys
                .iter()
                .filter(|(_, keys)| {
                    keys.get_ref()
                        .iter()
                        .any(|k| problem.contains(&format!("key {k} ")))
                })
                .map(|(name, _)| name.span().start)
                .max()
                .or(last_key_line);
            error(line, problem)
        })?;
        Ok(config)
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

    /// The config from `explicit` (`--config`), or the default path when it exists; on any
    /// mistake, the defaults and the error to show.
    pub fn load(explicit: Option<&Path>) -> (Config, Option<ConfigError>) {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None => match Config::default_path() {
                Some(path) if path.exists() => path,
                _ => return (Config::default(), None),
            },
        };
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) => {
                let problem = format!("cannot read it: {err}");
                return (
                    Config::default(),
                    Some(ConfigError {
                        file,
                        line: None,
                        problem,
                    }),
                );
            }
        };
        match Config::parse(&text, &file) {
            Ok(config) => (config, None),
            Err(err) => (Config::default(), Some(err)),
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
        out.push_str("\n[keys]\n");
        for (action, keys) in &self.keys {
            out.push_str(&format!("{} = {}\n", action.name(), list(keys)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn problem(text: &str) -> ConfigError {
        Config::parse(text, "test.toml").unwrap_err()
    }

    #[test]
    fn the_shipped_defaults_parse_and_an_empty_file_keeps_them() {
        let config = Config::parse("", "empty.toml").unwrap();
        assert_eq!(config.refresh, Duration::from_secs(1));
        assert_eq!(config.theme, ThemeName::Dark);
        assert!(config.mouse);
        assert_eq!(config.columns, crate::app::sort::DEFAULT_COLUMNS.to_vec());
        assert!(config.keys.iter().all(|(_, keys)| !keys.is_empty()));
    }

    #[test]
    fn every_entry_can_be_set() {
        let config = Config::parse(
            r#"
[general]
refresh = 0.5
theme = "light"
mouse = false
columns = ["pid", "ppid", "cpu", "virt"]

[lab]
auto_reap = true
subreaper = true

[keys]
quit = ["Q"]
"#,
            "mine.toml",
        )
        .unwrap();
        assert_eq!(config.refresh, Duration::from_millis(500));
        assert_eq!(config.theme, ThemeName::Light);
        assert!(!config.mouse && config.auto_reap && config.subreaper);
        assert_eq!(
            config.columns,
            vec![
                Column::Pid,
                Column::Ppid,
                Column::Cpu,
                Column::Virt,
                Column::Command
            ]
        );
        let q = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(config.keymap.action_for(q('Q')), Some(Action::Quit));
        assert_eq!(config.keymap.action_for(q('q')), None);
        // What --print-config prints reads back as the same configuration.
        let again = Config::parse(&config.to_toml(), "printed.toml").unwrap();
        assert_eq!(again.to_toml(), config.to_toml());
    }

    #[test]
    fn mistakes_name_the_file_the_line_and_the_problem() {
        let err = problem("[general]\nrefresh = 1\ntheme = \"neon\"\n");
        assert_eq!(err.line, Some(3));
        assert!(
            err.to_string()
                .starts_with("test.toml line 3: unknown theme \"neon\""),
            "{err}"
        );

        let err = problem("[general]\n\nrefresh = 0\n");
        assert_eq!(err.line, Some(3));
        assert!(err.problem.contains("out of range"), "{err}");

        let err = problem("[general]\nrefresh = \"fast\"\n");
        assert_eq!(err.line, Some(2), "{err}");

        let err = problem("\n\n[general]\ncolour = true\n");
        assert_eq!(err.line, Some(4), "{err}");
        assert!(err.problem.contains("colour"), "{err}");

        let err = problem("[keys]\nquit = [\"q\"]\nexplode = [\"x\"]\n");
        assert_eq!(err.line, Some(3));
        assert!(err.problem.contains("unknown action \"explode\""), "{err}");

        let err = problem("[keys]\n\nquit = [\"Hyper-q\"]\n");
        assert_eq!(err.line, Some(3));
        assert!(err.problem.contains("Hyper-q"), "{err}");

        let err = problem("[keys]\nhelp = [\"?\"]\nquit = [\"?\"]\n");
        assert!(err.problem.contains("bound to both"), "{err}");
        assert!(err.line.is_some(), "{err}");

        let err = problem("[general]\ncolumns = [\"pid\", \"nonsense\"]\n");
        assert_eq!(err.line, Some(2));
        assert!(err.problem.contains("unknown column \"nonsense\""), "{err}");

        let err = problem("[general\n");
        assert_eq!(err.line, Some(1), "{err}");
    }

    #[test]
    fn a_broken_file_falls_back_to_the_defaults_with_the_error() {
        let dir = std::env::temp_dir().join(format!("brood-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        std::fs::write(&path, "[general]\ntheme = 7\n").unwrap();
        let (config, err) = Config::load(Some(&path));
        let err = err.expect("an error");
        assert_eq!(err.line, Some(2));
        assert!(err.file.ends_with("config.toml"));
        assert_eq!(config.theme, ThemeName::Dark);
        let (_, err) = Config::load(Some(&dir.join("missing.toml")));
        assert!(err.unwrap().problem.starts_with("cannot read it"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
