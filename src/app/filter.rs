//! What the filter lets through: text (name, command line, PID), a user, a state, "only mine".
//! The tree keeps the ancestors of what passes (see `proc::tree::TreeOptions::matches`); this file
//! only says which processes match and how to describe the filter in one line.

use crate::proc::{ProcInfo, State};

/// Only one kind of process, or all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateFilter {
    #[default]
    All,
    Zombies,
    Stopped,
    Orphans,
}

impl StateFilter {
    /// The next in the cycle the state-filter key steps through.
    pub fn next(self) -> StateFilter {
        match self {
            StateFilter::All => StateFilter::Zombies,
            StateFilter::Zombies => StateFilter::Stopped,
            StateFilter::Stopped => StateFilter::Orphans,
            StateFilter::Orphans => StateFilter::All,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            StateFilter::All => "all states",
            StateFilter::Zombies => "only zombies",
            StateFilter::Stopped => "only stopped or traced",
            StateFilter::Orphans => "only orphans",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Matched case-insensitively against name and command line, or exactly against the PID.
    pub text: String,
    pub user: Option<String>,
    pub state: StateFilter,
    /// Only processes whose effective user is brood's.
    pub mine: bool,
    /// Also show the descendants of each match.
    pub descendants: bool,
}

impl Filter {
    pub fn is_active(&self) -> bool {
        !self.text.is_empty() || self.user.is_some() || self.state != StateFilter::All || self.mine
    }

    /// Whether `proc` passes; `orphan` comes from the lifecycle marks, `my_uid` is brood's.
    pub fn accepts(&self, proc: &ProcInfo, orphan: bool, my_uid: u32) -> bool {
        (self.text.is_empty() || text_matches(proc, &self.text.to_lowercase()))
            && self.user.as_deref().is_none_or(|u| &*proc.user == u)
            && (!self.mine || proc.uid == Some(my_uid))
            && match self.state {
                StateFilter::All => true,
                StateFilter::Zombies => proc.state == State::Zombie,
                StateFilter::Stopped => matches!(proc.state, State::Stopped | State::Traced),
                StateFilter::Orphans => orphan,
            }
    }

    /// One line for the screen, e.g. `filter "ssh" · user root · only zombies`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.text.is_empty() {
            parts.push(format!("\"{}\"", self.text));
        }
        if let Some(user) = &self.user {
            parts.push(format!("user {user}"));
        }
        if self.mine {
            parts.push("mine".to_string());
        }
        if self.state != StateFilter::All {
            parts.push(self.state.describe().to_string());
        }
        if self.descendants {
            parts.push("+descendants".to_string());
        }
        format!("filter {}", parts.join(" · "))
    }
}

/// Search and filter text: `query_lower` in the name or the command line (ignoring case), or
/// equal to the PID.
pub fn text_matches(proc: &ProcInfo, query_lower: &str) -> bool {
    if query_lower.is_empty() {
        return false;
    }
    proc.pid().to_string() == query_lower
        || proc.name.to_lowercase().contains(query_lower)
        || proc.cmdline.to_lowercase().contains(query_lower)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::builder::process;

    #[test]
    fn text_matches_name_command_line_or_exact_pid_ignoring_case() {
        let mut proc = process(4242, 1, "Nginx");
        proc.cmdline = "nginx: worker process --conf /etc/X.conf".into();
        for query in ["ngi", "worker", "/etc/x", "4242"] {
            assert!(text_matches(&proc, query), "{query}");
        }
        for query in ["424", "apache", ""] {
            assert!(!text_matches(&proc, query), "{query}");
        }
    }

    #[test]
    fn every_part_of_the_filter_must_pass() {
        let mut zombie = process(7, 1, "defunct");
        zombie.state = State::Zombie;
        zombie.user = "root".into();
        zombie.uid = Some(0);
        let filter = Filter {
            state: StateFilter::Zombies,
            ..Filter::default()
        };
        assert!(filter.accepts(&zombie, false, 1000));
        assert!(!filter.accepts(&process(8, 1, "alive"), false, 1000));
        let mine = Filter {
            mine: true,
            ..filter.clone()
        };
        assert!(!mine.accepts(&zombie, false, 1000));
        assert!(mine.accepts(&zombie, false, 0));
        let user = Filter {
            user: Some("alice".into()),
            ..Filter::default()
        };
        assert!(user.accepts(&process(9, 1, "x"), false, 0));
        assert!(!user.accepts(&zombie, false, 0));
        let orphans = Filter {
            state: StateFilter::Orphans,
            ..Filter::default()
        };
        assert!(orphans.accepts(&zombie, true, 0));
        assert!(!orphans.accepts(&zombie, false, 0));
        assert!(!Filter::default().is_active());
        assert_eq!(
            Filter {
                text: "ssh".into(),
                ..orphans
            }
            .describe(),
            "filter \"ssh\" · only orphans"
        );
    }
}
