//! The word badges after a process's name, `[zombie 12s, parent 40]`: what colour shows, said
//! in text. One wording for the screen and `brood snapshot`; the screen adds colour by kind and
//! nothing else. Pure: what is known of the process comes in with it.

use super::lifecycle::{Marks, Orphan};
use super::{ProcInfo, State};

/// What a badge is about; the screen colours each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadgeKind {
    Zombie,
    Stopped,
    Traced,
    /// Seen being reparented.
    Orphan,
    /// First seen already adopted: a labelled guess.
    ProbableOrphan,
    Deadlock,
    /// Shares an IPC object with the selected process.
    Linked,
    ThisBrood,
    LabGuard,
}

impl BadgeKind {
    /// The badge's name in `brood snapshot --format json`.
    pub fn key(self) -> &'static str {
        match self {
            BadgeKind::Zombie => "zombie",
            BadgeKind::Stopped => "stopped",
            BadgeKind::Traced => "traced",
            BadgeKind::Orphan => "orphan",
            BadgeKind::ProbableOrphan => "orphan?",
            BadgeKind::Deadlock => "deadlock",
            BadgeKind::Linked => "linked",
            BadgeKind::ThisBrood => "this brood",
            BadgeKind::LabGuard => "lab guard",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub kind: BadgeKind,
    /// With its brackets: `[stopped]`.
    pub text: String,
}

/// What is known of a process besides its own row.
#[derive(Debug, Clone, Copy, Default)]
pub struct Known<'a> {
    /// Orphan and zombie marks from the lifecycle.
    pub marks: Marks,
    /// The name of the task tracing it, when that task is listed.
    pub tracer_name: Option<&'a str>,
    pub in_deadlock: bool,
    pub linked: bool,
    pub this_brood: bool,
    pub lab_guard: bool,
}

/// The badges of `proc`, in the order they are shown.
pub fn badges(proc: &ProcInfo, known: &Known<'_>) -> Vec<Badge> {
    let mut badges = Vec::new();
    let mut push = |kind, text: String| badges.push(Badge { kind, text });
    if let Some(zombie) = known.marks.zombie {
        push(
            BadgeKind::Zombie,
            // Found already dead and just now: how long it has been dead is not known.
            if zombie.at_least && zombie.secs < 1.0 {
                format!("[zombie, parent {}]", proc.ppid)
            } else {
                let at_least = if zombie.at_least { "≥" } else { "" };
                format!(
                    "[zombie {at_least}{}, parent {}]",
                    short_age(zombie.secs),
                    proc.ppid
                )
            },
        );
    }
    if proc.state == State::Stopped {
        push(BadgeKind::Stopped, "[stopped]".into());
    }
    match (proc.tracer, known.tracer_name) {
        (Some(tracer), Some(name)) => {
            push(BadgeKind::Traced, format!("[traced by {tracer} {name}]"))
        }
        (Some(tracer), None) => push(BadgeKind::Traced, format!("[traced by {tracer}]")),
        (None, _) if proc.state == State::Traced => push(BadgeKind::Traced, "[traced]".into()),
        (None, _) => {}
    }
    match known.marks.orphan {
        Some(Orphan::Seen { former_parent }) => push(
            BadgeKind::Orphan,
            format!("[orphan, was child of {former_parent}]"),
        ),
        Some(Orphan::Probable) => push(BadgeKind::ProbableOrphan, "[orphan?]".into()),
        None => {}
    }
    if known.in_deadlock {
        push(BadgeKind::Deadlock, "[deadlock]".into());
    }
    if known.linked {
        push(BadgeKind::Linked, "[linked]".into());
    }
    if known.this_brood {
        push(BadgeKind::ThisBrood, "[this brood]".into());
    }
    if known.lab_guard {
        push(BadgeKind::LabGuard, "[lab guard]".into());
    }
    badges
}

/// A short age: `5s`, `3m`, `2h`, `4d`.
pub fn short_age(secs: f64) -> String {
    let total = secs.max(0.0) as u64;
    match total {
        0..60 => format!("{total}s"),
        60..3600 => format!("{}m", total / 60),
        3600..86_400 => format!("{}h", total / 3600),
        _ => format!("{}d", total / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::builder::process;
    use crate::proc::lifecycle::ZombieAge;

    fn texts(proc: &ProcInfo, known: &Known<'_>) -> Vec<String> {
        badges(proc, known).into_iter().map(|b| b.text).collect()
    }

    #[test]
    fn a_zombie_says_how_long_and_whose_unless_its_age_is_unknown() {
        let mut zombie = process(7, 3, "worker");
        zombie.state = State::Zombie;
        let aged = |secs, at_least| Known {
            marks: Marks {
                zombie: Some(ZombieAge { secs, at_least }),
                orphan: None,
            },
            ..Known::default()
        };
        assert_eq!(
            texts(&zombie, &aged(12.4, false)),
            ["[zombie 12s, parent 3]"]
        );
        assert_eq!(
            texts(&zombie, &aged(125.0, true)),
            ["[zombie ≥2m, parent 3]"]
        );
        assert_eq!(texts(&zombie, &aged(0.0, true)), ["[zombie, parent 3]"]);
        assert_eq!(short_age(59.0), "59s");
        assert_eq!(short_age(7200.0), "2h");
    }

    #[test]
    fn a_tracer_is_named_whatever_the_state() {
        let mut sleeping = process(7, 3, "sleep");
        sleeping.tracer = Some(9);
        let named = Known {
            tracer_name: Some("strace"),
            ..Known::default()
        };
        assert_eq!(texts(&sleeping, &named), ["[traced by 9 strace]"]);
        assert_eq!(texts(&sleeping, &Known::default()), ["[traced by 9]"]);
        let mut stopped = process(8, 3, "gdb-target");
        stopped.state = State::Traced;
        assert_eq!(texts(&stopped, &Known::default()), ["[traced]"]);
        stopped.state = State::Stopped;
        assert_eq!(texts(&stopped, &Known::default()), ["[stopped]"]);
    }

    #[test]
    fn every_badge_in_order() {
        let mut proc = process(7, 1, "odd");
        proc.state = State::Stopped;
        proc.tracer = Some(9);
        let known = Known {
            marks: Marks {
                orphan: Some(Orphan::Seen { former_parent: 5 }),
                zombie: None,
            },
            tracer_name: Some("gdb"),
            in_deadlock: true,
            linked: true,
            this_brood: true,
            lab_guard: true,
        };
        assert_eq!(
            texts(&proc, &known),
            [
                "[stopped]",
                "[traced by 9 gdb]",
                "[orphan, was child of 5]",
                "[deadlock]",
                "[linked]",
                "[this brood]",
                "[lab guard]"
            ]
        );
        let keys: Vec<&str> = badges(&proc, &known).iter().map(|b| b.kind.key()).collect();
        assert_eq!(
            keys,
            [
                "stopped",
                "traced",
                "orphan",
                "deadlock",
                "linked",
                "this brood",
                "lab guard"
            ]
        );
    }
}
