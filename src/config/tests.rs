//! The config file read as a user writes it: every entry, every mistake, every limit.

use super::*;
use crate::app::keymap::{Action, ConfirmAction, DEFAULT_CONFIG};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The one mistake `text` holds.
fn problem(text: &str) -> ConfigError {
    let (_, mut found) = Config::parse(text, "test.toml");
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

fn press(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

#[test]
fn the_shipped_defaults_parse_and_an_empty_file_keeps_them() {
    let (shipped, found) = Config::parse(DEFAULT_CONFIG, "the shipped defaults");
    assert_eq!(found, Vec::new());
    assert_eq!(shipped.keys, default_names());
    let (config, found) = Config::parse("", "empty.toml");
    assert!(found.is_empty());
    assert_eq!(config.refresh, Duration::from_secs(1));
    assert_eq!(config.theme, ThemeName::Dark);
    assert!(config.mouse);
    assert_eq!(config.columns, crate::app::sort::DEFAULT_COLUMNS.to_vec());
    assert!(
        config
            .keys
            .0
            .iter()
            .all(|layer| layer.actions.iter().all(|(_, keys)| !keys.is_empty()))
    );
}

#[test]
fn every_entry_can_be_set() {
    let (config, found) = Config::parse(
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

[keys.confirm]
yes = ["Y"]
"#,
        "mine.toml",
    );
    assert_eq!(found, Vec::new());
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
    assert_eq!(
        config.keymap.main.action_for(press('Q')),
        Some(Action::Quit)
    );
    assert_eq!(config.keymap.main.action_for(press('q')), None);
    assert_eq!(
        config.keymap.confirm.action_for(press('Y')),
        Some(ConfirmAction::Yes)
    );
    // What --print-config prints reads back as the same configuration.
    let (again, found) = Config::parse(&config.to_toml(), "printed.toml");
    assert_eq!(found, Vec::new());
    assert_eq!(again.to_toml(), config.to_toml());
}

#[test]
fn mistakes_name_the_file_the_line_and_the_problem() {
    let err = problem("[general]\nrefresh = 1\ntheme = \"neon\"\n");
    assert_eq!(err.line, Some(3));
    assert_eq!(
        err.to_string(),
        "test.toml line 3: unknown theme \"neon\": use dark, light, monochrome"
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
    assert_eq!(err.line, Some(3), "{err}");

    let err = problem("[general]\ncolumns = [\"pid\", \"nonsense\"]\n");
    assert_eq!(err.line, Some(2));
    assert_eq!(
        err.problem,
        "unknown column \"nonsense\": use pid, ppid, user, state, nice, threads, cpu, res, virt, \
         elapsed, wchan, command"
    );

    let err = problem("[keys.menu]\nup = [\"Q\"]\nsideways = [\"x\"]\n");
    assert_eq!(err.line, Some(3));
    assert!(err.problem.contains("in [keys.menu]"), "{err}");
}

#[test]
fn every_mistake_is_reported_and_every_good_entry_kept() {
    let text = "[general]\ntheme = \"neon\"\nrefresh = 2\nmouse = \"yes\"\n[lab]\nauto_reap = true\n[keys]\nexplode = [\"x\"]\nhelp = [\"F2\"]\nquit = [\"F2\"]\n";
    let (config, found) = Config::parse(text, "test.toml");
    let lines: Vec<Option<usize>> = found.iter().map(|e| e.line).collect();
    assert_eq!(
        lines,
        vec![Some(2), Some(4), Some(8), Some(10)],
        "{found:?}"
    );
    assert_eq!(
        config.theme,
        ThemeName::Dark,
        "a wrong entry keeps its default"
    );
    assert_eq!(
        config.refresh,
        Duration::from_secs(2),
        "the right ones count"
    );
    assert!(config.auto_reap);
    let f2 = KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE);
    assert_eq!(config.keymap.main.action_for(f2), Some(Action::Help));
    assert_eq!(
        config.keymap.main.action_for(press('q')),
        Some(Action::Quit),
        "the clashing entry is the one ignored"
    );
}

#[test]
fn a_table_with_no_way_out_is_refused() {
    let err = problem("[keys]\nquit = []\nforce_quit = []\n");
    assert!(err.problem.contains("no way out"), "{err}");
    assert_eq!(err.line, Some(3), "the entry that took the last way out");
    let (config, _) = Config::parse("[keys]\nquit = []\nforce_quit = []\n", "t.toml");
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(
        config.keymap.main.action_for(ctrl_c),
        Some(Action::ForceQuit)
    );
}

#[test]
fn values_are_quoted_briefly() {
    let huge = "x".repeat(10_000_000);
    let err = problem(&format!("[general]\ntheme = \"{huge}\"\n"));
    assert!(err.problem.len() < 200, "{} bytes", err.problem.len());
    assert!(err.problem.contains("…"), "{err}");
}

#[test]
fn a_broken_or_oversized_file_is_one_mistake_and_the_defaults() {
    let dir = std::env::temp_dir().join(format!("brood-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, "[general]\ntheme = 7\n").unwrap();
    let (config, found) = Config::load(Some(&path));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].line, Some(2));
    assert!(found[0].file.ends_with("config.toml"));
    assert_eq!(config.theme, ThemeName::Dark);
    let (_, found) = Config::load(Some(&dir.join("missing.toml")));
    assert!(found[0].problem.starts_with("cannot read it"));
    // /dev/zero never ends: only the first mebibyte is read, then refused.
    let (config, found) = Config::load(Some(Path::new("/dev/zero")));
    assert!(
        found[0].problem.starts_with("larger than 1024 KiB"),
        "{found:?}"
    );
    assert_eq!(config.refresh, Duration::from_secs(1));
    let _ = std::fs::remove_dir_all(&dir);
}
