//! Colours and emphasis. Every colour carries meaning that is also written as text (state letter,
//! badge words), so the monochrome theme (NO_COLOR, --no-color) loses nothing.

use ratatui::style::{Color, Modifier, Style};

use crate::proc::State;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    fn paint(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    pub fn state(self, state: State) -> Style {
        match state {
            State::Running => self.paint(Color::Green).add_modifier(Modifier::BOLD),
            State::Sleeping => self.paint(Color::Blue),
            State::DiskSleep => self.paint(Color::Yellow).add_modifier(Modifier::BOLD),
            State::Stopped => self.paint(Color::Magenta).add_modifier(Modifier::BOLD),
            State::Traced => self.paint(Color::LightCyan).add_modifier(Modifier::BOLD),
            State::Zombie => self.paint(Color::Red).add_modifier(Modifier::BOLD),
            State::Idle => self.paint(Color::DarkGray),
            State::Dead | State::Other(_) => self.paint(Color::LightRed),
        }
    }

    pub fn orphan(self) -> Style {
        self.paint(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// Secondary text: arguments, folded-subtree counts, tree guides.
    pub fn dim(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
    }

    pub fn column_header(self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Green)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        }
    }

    /// The selected row: reverse video reads with and without colour.
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn key(self) -> Style {
        self.paint(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn error(self) -> Style {
        self.paint(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn meter(self) -> Style {
        self.paint(Color::Green)
    }
}
