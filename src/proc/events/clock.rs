//! When an event happened, on the clocks brood meets: the kernel stamps its process events with
//! CLOCK_MONOTONIC, /proc counts start times and uptime on the boot clock (which also runs while
//! suspended), people read the wall clock. A [`Clock`] holds the offsets between them, read once.

use serde::{Deserialize, Serialize};

const NS_PER_SEC: u64 = 1_000_000_000;

/// A moment, on the boot clock and on the wall clock.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Stamp {
    /// Nanoseconds since boot, suspend included (CLOCK_BOOTTIME, the clock of /proc's start
    /// times and uptime).
    pub boot_ns: u64,
    /// Nanoseconds since the Unix epoch (CLOCK_REALTIME).
    pub unix_ns: u64,
}

/// The three clocks read at one moment: enough to move a stamp from one to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    monotonic_ns: u64,
    boot_ns: u64,
    unix_ns: u64,
}

impl Clock {
    /// The clocks now. A clock that cannot be read (never, on Linux) counts as zero.
    pub fn read() -> Clock {
        use nix::time::{ClockId, clock_gettime};
        let ns = |id| {
            clock_gettime(id).map_or(0, |t| {
                (t.tv_sec() as u64)
                    .saturating_mul(NS_PER_SEC)
                    .saturating_add(t.tv_nsec() as u64)
            })
        };
        Clock {
            monotonic_ns: ns(ClockId::CLOCK_MONOTONIC),
            boot_ns: ns(ClockId::CLOCK_BOOTTIME),
            unix_ns: ns(ClockId::CLOCK_REALTIME),
        }
    }

    /// Clocks given by hand: the same moment on each (for tests and replays).
    pub fn at(monotonic_ns: u64, boot_ns: u64, unix_ns: u64) -> Clock {
        Clock {
            monotonic_ns,
            boot_ns,
            unix_ns,
        }
    }

    /// The moment the clocks were read.
    pub fn now(&self) -> Stamp {
        self.from_boot(self.boot_ns)
    }

    /// A kernel event's stamp. The boot clock is ahead of the monotonic one by the time spent
    /// suspended; that offset is taken when the clocks were read, so an event from before a
    /// suspend that ended since is placed too late by the suspend's length.
    pub fn from_monotonic(&self, monotonic_ns: u64) -> Stamp {
        let suspended = self.boot_ns.saturating_sub(self.monotonic_ns);
        self.from_boot(monotonic_ns.saturating_add(suspended))
    }

    /// A moment on the boot clock (a scan's uptime, a start time).
    pub fn from_boot(&self, boot_ns: u64) -> Stamp {
        let unix_ns = if boot_ns <= self.boot_ns {
            self.unix_ns.saturating_sub(self.boot_ns - boot_ns)
        } else {
            self.unix_ns.saturating_add(boot_ns - self.boot_ns)
        };
        Stamp { boot_ns, unix_ns }
    }
}

/// Clock ticks after boot (field 22 of /proc/PID/stat) as nanoseconds after boot.
pub fn ticks_to_ns(ticks: u64, ticks_per_sec: u64) -> u64 {
    (u128::from(ticks) * u128::from(NS_PER_SEC) / u128::from(ticks_per_sec.max(1))) as u64
}

/// The clock tick a moment falls in, as the kernel rounds a start time for /proc (down).
pub fn ns_to_ticks(boot_ns: u64, ticks_per_sec: u64) -> u64 {
    (u128::from(boot_ns) * u128::from(ticks_per_sec) / u128::from(NS_PER_SEC)) as u64
}

/// A moment in local time (`utc_offset_secs` east of UTC).
fn local(unix_secs: i64, utc_offset_secs: i32) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let offset = chrono::FixedOffset::east_opt(utc_offset_secs)?;
    Some(chrono::DateTime::from_timestamp(unix_secs, 0)?.with_timezone(&offset))
}

/// Wall-clock time of day in local time, `HH:MM:SS`, from nanoseconds since the epoch; with
/// `millis`, `HH:MM:SS.mmm`. The offset is the caller's to read (reading the zone is I/O).
pub fn time_of_day(unix_ns: u64, utc_offset_secs: i32, millis: bool) -> String {
    let time = local((unix_ns / NS_PER_SEC) as i64, utc_offset_secs);
    match (time, millis) {
        (Some(time), false) => time.format("%H:%M:%S").to_string(),
        (Some(time), true) => format!(
            "{}.{:03}",
            time.format("%H:%M:%S"),
            unix_ns / 1_000_000 % 1_000
        ),
        (None, false) => "--:--:--".into(),
        (None, true) => "--:--:--.---".into(),
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
    fn a_kernel_stamp_moves_to_the_boot_and_wall_clocks() {
        // Booted 100 s ago, suspended 5 s of it; the wall clock says 1 000 000 s.
        let clock = Clock::at(95 * NS_PER_SEC, 100 * NS_PER_SEC, 1_000_000 * NS_PER_SEC);
        let stamp = clock.from_monotonic(90 * NS_PER_SEC);
        assert_eq!(stamp.boot_ns, 95 * NS_PER_SEC);
        assert_eq!(stamp.unix_ns, 999_995 * NS_PER_SEC);
        assert_eq!(clock.now().unix_ns, 1_000_000 * NS_PER_SEC);
        assert_eq!(
            clock.from_boot(101 * NS_PER_SEC).unix_ns,
            1_000_001 * NS_PER_SEC
        );
    }

    #[test]
    fn ticks_round_down_like_the_kernel() {
        assert_eq!(ns_to_ticks(1_234_567_890, 100), 123);
        assert_eq!(ticks_to_ns(123, 100), 1_230_000_000);
        assert_eq!(ns_to_ticks(ticks_to_ns(98_765, 100), 100), 98_765);
        assert_eq!(ticks_to_ns(5, 0), 5 * NS_PER_SEC, "no division by zero");
    }

    #[test]
    fn times_of_day_read_in_the_offset_given() {
        let at = (86_400 + 3_661) * NS_PER_SEC + 25_000_000;
        assert_eq!(time_of_day(at, 0, false), "01:01:01");
        assert_eq!(time_of_day(at, 2 * 3600, false), "03:01:01");
        assert_eq!(time_of_day(at, 0, true), "01:01:01.025");
        assert_eq!(
            time_of_day(at, 86_400, true),
            "--:--:--.---",
            "no such offset"
        );
        assert_eq!(date_time(86_400 + 3_661, -3600), "1970-01-02 00:01:01");
    }

    #[test]
    fn the_real_clocks_agree_with_each_other() {
        let clock = Clock::read();
        assert!(clock.boot_ns >= clock.monotonic_ns);
        assert!(clock.unix_ns > 1_600_000_000 * NS_PER_SEC);
    }
}
