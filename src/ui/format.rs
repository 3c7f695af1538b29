//! Numbers as a person reads them: sizes, durations, percentages.

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

/// A moment in local time (`utc_offset_secs` east of UTC, as the collector last read it).
fn local(unix_secs: i64, utc_offset_secs: i32) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let offset = chrono::FixedOffset::east_opt(utc_offset_secs)?;
    Some(chrono::DateTime::from_timestamp(unix_secs, 0)?.with_timezone(&offset))
}

/// Wall-clock time of day in local time, `HH:MM:SS`, from nanoseconds since the epoch; with
/// `millis`, `HH:MM:SS.mmm`.
pub fn clock(unix_ns: u64, utc_offset_secs: i32, millis: bool) -> String {
    let Some(time) = local((unix_ns / 1_000_000_000) as i64, utc_offset_secs) else {
        return "--:--:--".into();
    };
    let seconds = time.format("%H:%M:%S");
    if millis {
        format!("{seconds}.{:03}", unix_ns / 1_000_000 % 1_000)
    } else {
        seconds.to_string()
    }
}

/// A moment as local date and time, `YYYY-MM-DD HH:MM:SS`, from seconds since the epoch.
pub fn date_time(unix_secs: u64, utc_offset_secs: i32) -> String {
    local(unix_secs as i64, utc_offset_secs)
        .map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
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

    #[test]
    fn clocks_read_in_the_offset_given() {
        let at = (86_400 + 3_661) * 1_000_000_000 + 25_000_000;
        assert_eq!(clock(at, 0, false), "01:01:01");
        assert_eq!(clock(at, 2 * 3600, false), "03:01:01");
        assert_eq!(clock(at, 0, true), "01:01:01.025");
        assert_eq!(date_time(86_400 + 3_661, -3600), "1970-01-02 00:01:01");
    }
}
