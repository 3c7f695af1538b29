//! Counting the process events that never arrived. The kernel numbers its messages per CPU, in
//! order (cn_proc.c sends each under a per-CPU lock), so a gap in one CPU's numbers is exactly
//! the number of messages lost there, from the first message heard from that CPU on. Pure:
//! sequence numbers in, counts out.

/// More CPUs than any machine brood runs on; a larger number is a corrupt message, not a CPU.
const MAX_CPUS: usize = 1 << 13;

/// The last sequence number seen from each CPU.
#[derive(Debug, Default, Clone)]
pub struct LossCounter {
    last: Vec<Option<u32>>,
}

impl LossCounter {
    /// Takes the next message's CPU and sequence number; returns how many messages from that CPU
    /// were missed just before it. The first message of a CPU only sets where counting starts.
    pub fn observe(&mut self, cpu: u32, seq: u32) -> u64 {
        let cpu = cpu as usize;
        if cpu >= MAX_CPUS {
            return 0;
        }
        if cpu >= self.last.len() {
            self.last.resize(cpu + 1, None);
        }
        let missed = match self.last[cpu] {
            // The counter is 32 bits and wraps. A step backwards (half the range or more) is not
            // a loss: counting restarts from it.
            Some(last) => match seq.wrapping_sub(last) {
                step @ 1..=0x7fff_ffff => u64::from(step - 1),
                _ => 0,
            },
            None => 0,
        };
        self.last[cpu] = Some(seq);
        missed
    }

    /// How many CPUs have been heard from: losses on the others cannot be counted yet.
    pub fn cpus_heard(&self) -> usize {
        self.last.iter().flatten().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_gap_on_one_cpu_is_counted_and_other_cpus_are_separate() {
        let mut losses = LossCounter::default();
        assert_eq!(losses.observe(0, 10), 0, "the first message sets the start");
        assert_eq!(losses.observe(1, 500), 0);
        assert_eq!(losses.observe(0, 11), 0);
        assert_eq!(losses.observe(0, 15), 3, "12, 13 and 14 were lost");
        assert_eq!(losses.observe(1, 501), 0);
        assert_eq!(losses.cpus_heard(), 2);
    }

    #[test]
    fn the_counter_wraps_and_a_step_back_restarts_counting() {
        let mut losses = LossCounter::default();
        losses.observe(2, u32::MAX - 1);
        assert_eq!(losses.observe(2, 1), 2, "u32::MAX and 0 were lost");
        assert_eq!(losses.observe(2, 0), 0);
        assert_eq!(losses.observe(2, 1), 0);
        assert_eq!(losses.observe(u32::MAX, 7), 0, "not a CPU: ignored");
    }

    proptest! {
        #[test]
        fn dropping_messages_counts_exactly_what_was_dropped(
            start: u32,
            kept in proptest::collection::vec(any::<bool>(), 1..300),
        ) {
            // Messages start..start+n from one CPU, some dropped; the last one always arrives.
            let mut losses = LossCounter::default();
            let n = kept.len() as u32;
            let mut counted = 0;
            losses.observe(0, start);
            for (i, keep) in kept.iter().enumerate() {
                let seq = start.wrapping_add(i as u32 + 1);
                if *keep || i as u32 + 1 == n {
                    counted += losses.observe(0, seq);
                }
            }
            let dropped = kept[..kept.len() - 1].iter().filter(|k| !**k).count() as u64;
            prop_assert_eq!(counted, dropped);
        }
    }
}
