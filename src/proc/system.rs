//! The machine as a whole, as the header shows it: CPU, memory, swap, load and uptime. Plain
//! data, read with each scan by the collector (through sysinfo) and kept in recordings beside
//! the process table.

use serde::{Deserialize, Serialize};

/// The header's system figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemStats {
    pub cpu_percent: f32,
    pub cpus: usize,
    pub mem_used: u64,
    pub mem_total: u64,
    pub swap_used: u64,
    pub swap_total: u64,
    pub load: [f64; 3],
    pub uptime_secs: u64,
    /// Local time minus UTC, read with the figures so that drawing a clock needs no I/O and
    /// follows a daylight-saving change.
    pub utc_offset_secs: i32,
}
