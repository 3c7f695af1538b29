//! The scenario texts, read once from `assets/scenarios.toml` (compiled in): the one place the
//! explanations live, so they can be reviewed for accuracy together.

use std::sync::OnceLock;

use super::ScenarioId;

const TEXTS: &str = include_str!("../../../assets/scenarios.toml");

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Text {
    pub name: String,
    pub title: String,
    /// What the user is looking at.
    pub what: String,
    /// The system calls that produced it.
    pub syscalls: String,
    /// What to try next: which key, and what will change.
    #[serde(rename = "try")]
    pub try_next: String,
}

#[derive(serde::Deserialize)]
struct File {
    scenario: Vec<Text>,
}

pub(super) fn all() -> &'static [Text] {
    static TABLE: OnceLock<Vec<Text>> = OnceLock::new();
    TABLE.get_or_init(|| {
        toml::from_str::<File>(TEXTS)
            .map(|f| f.scenario)
            .unwrap_or_default()
    })
}

/// The texts of one scenario (`None` only if the shipped file is broken, which a test catches).
pub fn text(id: ScenarioId) -> Option<&'static Text> {
    all().iter().find(|t| t.name == id.name())
}
