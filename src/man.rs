//! `brood --man`: the options and subcommands from the command line's definition (clap), then
//! sections generated from what the program itself uses: the key table (every layer), the
//! states, the badges, the scenarios, the shipped configuration, the environment and the exit
//! statuses. Roff text, nothing else.

use std::fmt::Write;

use strum::VariantArray;

use crate::app::help::BADGES;
use crate::app::keymap::{DEFAULT_CONFIG, Keymap};
use crate::cli::Cli;
use crate::lab::scenarios::ScenarioId;
use crate::proc::State;

/// The whole man page (roff).
pub fn page() -> std::io::Result<Vec<u8>> {
    use clap::CommandFactory;
    let man = clap_mangen::Man::new(Cli::command());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    out.extend_from_slice(sections().as_bytes());
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// The sections after SUBCOMMANDS, in the order a man page puts them.
fn sections() -> String {
    let mut out = String::new();
    keys(&mut out);
    states(&mut out);
    badges(&mut out);
    scenarios(&mut out);
    configuration(&mut out);
    environment(&mut out);
    exit_status(&mut out);
    out
}

fn keys(out: &mut String) {
    heading(out, "KEYS");
    paragraph(
        out,
        "The keys of the default configuration, screen by screen. Every one can be rebound in the [keys] sections of the configuration file; brood --print-config shows the names of the actions and the keys in effect.",
    );
    for (title, rows) in Keymap::default().help_sections() {
        let _ = writeln!(out, ".SS {}", escape(title));
        for (keys, doc) in rows {
            item(out, &keys, doc);
        }
    }
}

fn states(out: &mut String) {
    heading(out, "STATES");
    paragraph(
        out,
        "The S column holds the kernel's state letter (proc(5)); each state has its own colour too.",
    );
    for state in State::KNOWN {
        item(out, &state.letter().to_string(), state.meaning());
    }
}

fn badges(out: &mut String) {
    heading(out, "BADGES");
    paragraph(
        out,
        "Words after a process's name say what colour shows; brood snapshot prints the same.",
    );
    for (badge, meaning) in BADGES {
        item(out, badge, meaning);
    }
}

fn scenarios(out: &mut String) {
    heading(out, "SCENARIOS");
    paragraph(
        out,
        "Lessons with real processes, started with S or --scenario NAME:",
    );
    for id in ScenarioId::VARIANTS {
        item(out, id.name(), id.title());
    }
}

fn configuration(out: &mut String) {
    heading(out, "CONFIGURATION");
    paragraph(
        out,
        "brood reads $XDG_CONFIG_HOME/brood/config.toml (else ~/.config/brood/config.toml), or the file --config names. Every setting is optional; a broken file is reported with its line, and brood runs on the defaults. The defaults, before the key table (see KEYS):",
    );
    let settings = DEFAULT_CONFIG
        .split("\n[keys]")
        .next()
        .unwrap_or(DEFAULT_CONFIG);
    out.push_str(".PP\n.nf\n");
    for line in settings.trim_end().lines() {
        let _ = writeln!(out, "{}", escape_line(line));
    }
    out.push_str(".fi\n");
}

fn environment(out: &mut String) {
    heading(out, "ENVIRONMENT");
    item(
        out,
        "NO_COLOR",
        "When set and not empty, no colours (as --no-color); state letters and badges still say everything in text.",
    );
    item(
        out,
        "XDG_CONFIG_HOME",
        "Where the configuration file is looked for (default ~/.config).",
    );
    item(
        out,
        "XDG_RUNTIME_DIR",
        "Where the lab's run directory goes (else /dev/shm when it is a tmpfs, else the temporary directory), mode 0700.",
    );
}

fn exit_status(out: &mut String) {
    heading(out, "EXIT STATUS");
    item(
        out,
        "0",
        "Quit normally; brood snapshot, exporter, events, record and export finished, or their reader went away.",
    );
    item(
        out,
        "1",
        "Failed: /proc could not be read, the terminal failed, output could not be written, or a recording could not be read.",
    );
    item(
        out,
        "2",
        "Bad arguments, no terminal for the screen, or an exporter address that cannot be used.",
    );
    item(
        out,
        "128+N",
        "brood was ended by signal N (SIGTERM, SIGHUP, SIGINT, SIGQUIT), its lab ended with it.",
    );
}

fn heading(out: &mut String, title: &str) {
    let _ = writeln!(out, ".SH \"{title}\"");
}

fn paragraph(out: &mut String, text: &str) {
    let _ = writeln!(out, ".PP\n{}", escape_line(text));
}

/// A term in bold and its description, indented below it.
fn item(out: &mut String, term: &str, text: &str) {
    let _ = writeln!(out, ".TP\n\\fB{}\\fR\n{}", escape(term), escape_line(text));
}

/// Text safe inside a roff line: backslashes and hyphens as roff writes them.
fn escape(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// A whole line of text: escaped, and never read as a request (a leading `.` or `'`).
fn escape_line(text: &str) -> String {
    let text = escape(text);
    if text.starts_with(['.', '\'']) {
        format!("\\&{text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_the_options_then_the_sections_made_from_the_code() {
        let page = String::from_utf8(page().unwrap()).unwrap();
        assert!(page.contains(".TH brood") && page.contains("\\-\\-print\\-config"));
        let sections: Vec<&str> = page
            .lines()
            .filter_map(|l| l.strip_prefix(".SH "))
            .map(|t| t.trim_matches('"'))
            .collect();
        assert_eq!(
            sections,
            [
                "NAME",
                "SYNOPSIS",
                "DESCRIPTION",
                "OPTIONS",
                "SUBCOMMANDS",
                "KEYS",
                "STATES",
                "BADGES",
                "SCENARIOS",
                "CONFIGURATION",
                "ENVIRONMENT",
                "EXIT STATUS",
                "VERSION"
            ]
        );
    }

    #[test]
    fn every_key_state_badge_and_scenario_is_in_its_section() {
        let text = sections();
        for (layer, rows) in Keymap::default().help_sections() {
            assert!(text.contains(&format!(".SS {}", escape(layer))), "{layer}");
            for (keys, doc) in rows {
                assert!(text.contains(&escape(&keys)), "{keys}");
                assert!(text.contains(&escape_line(doc)), "{doc}");
            }
        }
        for state in State::KNOWN {
            assert!(text.contains(&escape_line(state.meaning())), "{state:?}");
        }
        for (badge, _) in BADGES {
            assert!(text.contains(&escape(badge)), "{badge}");
        }
        for id in ScenarioId::VARIANTS {
            assert!(
                text.contains(&format!("\\fB{}\\fR\n", escape(id.name()))),
                "{id}"
            );
        }
        assert!(text.contains("NO_COLOR"));
        assert!(text.contains("refresh = 1.0"));
        assert!(
            !text.contains("force_quit"),
            "the key table is in KEYS, not repeated"
        );
    }

    #[test]
    fn roff_requests_and_escapes_cannot_come_from_the_text() {
        assert_eq!(escape_line(".hidden"), "\\&.hidden");
        assert_eq!(escape_line("'quoted"), "\\&'quoted");
        assert_eq!(escape("a\\b --flag"), "a\\eb \\-\\-flag");
    }
}
