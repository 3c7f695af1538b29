//! Tasks that only spend time: work then exit, exec after a pause, tick.

use std::time::Duration;

use super::{publish, spend};

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
