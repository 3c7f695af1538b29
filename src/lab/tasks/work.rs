//! Tasks that only spend time (work then exit, exec after a pause, tick), and how every task
//! spends it: work done is counted, not time passed.

use std::time::Duration;

use super::publish;

pub(super) fn work(ms: u32, busy: bool, code: u8) -> i32 {
    publish(if busy { "busy" } else { "sleeping" });
    spend(ms, busy);
    publish(&format!("exiting code={code}"));
    i32::from(code)
}

/// Replaces this process with `sleep SECS` after `delay_ms`, so the lab process can be seen
/// before the exec and the same PID with the new program after it.
pub(super) fn exec_sleep(secs: u32, delay_ms: u32) -> i32 {
    let Ok(arg) = std::ffi::CString::new(secs.to_string()) else {
        return 127;
    };
    publish(&format!("exec-after={:.1}s", f64::from(delay_ms) / 1000.0));
    spend(delay_ms, false);
    publish(&format!("called=execve(sleep,{secs})"));
    let program = c"sleep";
    let _ = nix::unistd::execvp(program, &[program, arg.as_c_str()]);
    publish("exec-failed");
    127
}

pub(super) fn tick(every_ms: u32, ticks: u32) -> i32 {
    for tick in 1..=ticks {
        std::thread::sleep(Duration::from_millis(u64::from(every_ms)));
        publish(&format!("ticks={tick}"));
    }
    0
}

/// Spends `ms` of work, busy on a CPU (R) or asleep (S). Work done is counted, not time passed:
/// busy work in the CPU time this process used, sleep in naps of at most 100 ms. Stopped (T),
/// a process does no work, so a child continued after a long stop still has its work ahead.
pub(super) fn spend(ms: u32, busy: bool) {
    use std::time::{Duration, Instant};
    let wanted = Duration::from_millis(u64::from(ms));
    if busy {
        let start = cpu_time();
        let mut x = 0u64;
        while cpu_time().saturating_sub(start) < wanted {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        return;
    }
    let nap = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < wanted {
        let this = nap.min(wanted - slept);
        let start = Instant::now();
        std::thread::sleep(this);
        // A nap that took longer was stopped or not scheduled meanwhile: it counts as itself.
        slept += start.elapsed().min(this);
    }
}

/// The CPU time this process has used (user and system).
fn cpu_time() -> std::time::Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_SELF).map_or(std::time::Duration::ZERO, |usage| {
        let total = usage.user_time() + usage.system_time();
        std::time::Duration::from_micros(
            u64::try_from(total.tv_sec()).unwrap_or(0) * 1_000_000
                + u64::try_from(total.tv_usec()).unwrap_or(0),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_work_counts_cpu_time_used() {
        let before = cpu_time();
        spend(30, true);
        assert!(cpu_time() - before >= Duration::from_millis(30));
    }
}
