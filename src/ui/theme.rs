//! Colours and emphasis. Every colour carries meaning that is also written as text (state letter,
//! badge words), so the monochrome theme (NO_COLOR, --no-color) loses nothing.
//! Three palettes: dark (for dark terminals, the default), light and monochrome.

use ratatui::style::{Color, Modifier, Style};

use crate::app::ThemeName;
use crate::proc::State;

/// The colours of one palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Palette {
    running: Color,
    sleeping: Color,
    disk: Color,
    stopped: Color,
    traced: Color,
    zombie: Color,
    idle: Color,
    other: Color,
    orphan: Color,
    dim: Color,
    key: Color,
    error: Color,
    meter: Color,
    header_fg: Color,
    header_bg: Color,
    tagged: Color,
}

const DARK: Palette = Palette {
    running: Color::Green,
    sleeping: Color::Blue,
    disk: Color::Yellow,
    stopped: Color::Magenta,
    traced: Color::LightCyan,
    zombie: Color::Red,
    idle: Color::DarkGray,
    other: Color::LightRed,
    orphan: Color::Cyan,
    dim: Color::DarkGray,
    key: Color::Cyan,
    error: Color::Red,
    meter: Color::Green,
    header_fg: Color::Black,
    header_bg: Color::Green,
    tagged: Color::Yellow,
};

/// For light backgrounds: no yellow or light cyan text, which vanish on white.
const LIGHT: Palette = Palette {
    running: Color::Green,
    sleeping: Color::Blue,
    disk: Color::Rgb(0x9a, 0x60, 0x00),
    stopped: Color::Magenta,
    traced: Color::Cyan,
    zombie: Color::Red,
    idle: Color::Gray,
    other: Color::Red,
    orphan: Color::Rgb(0x00, 0x70, 0x80),
    dim: Color::Gray,
    key: Color::Blue,
    error: Color::Red,
    meter: Color::Green,
    header_fg: Color::White,
    header_bg: Color::Blue,
    tagged: Color::Rgb(0xb0, 0x50, 0x00),
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Colours at all; off with NO_COLOR, --no-color or the monochrome theme.
    pub color: bool,
    palette: Palette,
}

impl Theme {
    pub fn new(name: ThemeName, color: bool) -> Theme {
        Theme {
            color: color && name != ThemeName::Monochrome,
            palette: if name == ThemeName::Light {
                LIGHT
            } else {
                DARK
            },
        }
    }

    fn paint(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    pub fn state(self, state: State) -> Style {
        let p = self.palette;
        match state {
            State::Running => self.paint(p.running).add_modifier(Modifier::BOLD),
            State::Sleeping => self.paint(p.sleeping),
            State::DiskSleep => self.paint(p.disk).add_modifier(Modifier::BOLD),
            State::Stopped => self.paint(p.stopped).add_modifier(Modifier::BOLD),
            State::Traced => self.paint(p.traced).add_modifier(Modifier::BOLD),
            State::Zombie => self.paint(p.zombie).add_modifier(Modifier::BOLD),
            State::Idle => self.paint(p.idle),
            State::Dead | State::Other(_) => self.paint(p.other),
        }
    }

    pub fn orphan(self) -> Style {
        self.paint(self.palette.orphan).add_modifier(Modifier::BOLD)
    }

    /// Secondary text: arguments, folded-subtree counts, tree guides.
    pub fn dim(self) -> Style {
        if self.color {
            Style::new().fg(self.palette.dim)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    /// A row shown only as the ancestor of a filter match: dim, whatever its own colours.
    pub fn context(self) -> Style {
        self.dim().add_modifier(Modifier::DIM)
    }

    /// A tagged row: bold, and coloured where there is colour (the `*` mark says it too).
    pub fn tagged(self) -> Style {
        self.paint(self.palette.tagged).add_modifier(Modifier::BOLD)
    }

    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
    }

    pub fn column_header(self) -> Style {
        if self.color {
            Style::new()
                .fg(self.palette.header_fg)
                .bg(self.palette.header_bg)
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
        self.paint(self.palette.key).add_modifier(Modifier::BOLD)
    }

    pub fn error(self) -> Style {
        self.paint(self.palette.error).add_modifier(Modifier::BOLD)
    }

    pub fn meter(self) -> Style {
        self.paint(self.palette.meter)
    }
}
