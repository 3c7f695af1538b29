//! Numbers as a person reads them: sizes, durations, percentages, times.

/// Times of day and dates are the process model's, so `brood events` and the screen write them
/// alike; on the screen the offset is the one the collector last read.
pub use crate::proc::events::clock::{date_time, time_of_day as clock};

/// Bytes with a binary unit, at most five characters: `512K`, `12.3M`, `1.2G`.
pub fn bytes(value: u64) -> String {
    const UNITS: [&str; 6] = ["B", "K", "M", "G", "T", "P"];
    let mut scaled = value as f64;
    let mut unit = 0;
    while scaled >= 1024.0 && unit + 1 < UNITS.len() {
        scaled /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value}B")
    } else if scaled < 10.0 {
        format!("{scaled:.1}{}", UNITS[unit])
    } else {
        format!("{scaled:.0}{}", UNITS[unit])
    }
}

/// A duration in the shape `ps` uses for elapsed time: `MM:SS`, `H:MM:SS`, `Nd HHh`.
pub fn duration(secs: f64) -> String {
    let total = secs.max(0.0) as u64;
    let (days, hours, minutes, seconds) = (
        total / 86_400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    if days > 0 {
        format!("{days}d {hours:02}h")
    } else if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes:02}:{seconds:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_short_and_binary() {
        assert_eq!(bytes(0), "0B");
        assert_eq!(bytes(512 * 1024), "512K");
        assert_eq!(bytes(1536 * 1024), "1.5M");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0G");
    }

    #[test]
    fn durations_read_like_ps() {
        assert_eq!(duration(59.9), "00:59");
        assert_eq!(duration(3600.0 + 62.0), "1:01:02");
        assert_eq!(duration(2.0 * 86_400.0 + 5.0 * 3600.0), "2d 05h");
    }
}
