//! The exposition: a [`Report`] as Prometheus metrics, encoded by the official client crate in
//! the Prometheus text format (0.0.4) and in OpenMetrics 1.0. Built once a scan and served as it
//! is to every scrape. It never reads /proc, and no label ever holds a command line.

use std::sync::Arc;

use prometheus_client::encoding::{
    EncodeLabelSet, EncodeMetric, MetricEncoder, prometheus_text, text,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::observe::{Report, STATE_LABELS, ZOMBIE_PARENTS_SHOWN};

/// Upper bounds of the zombie age buckets, in seconds: from "just exited" to "a day", with the
/// 10 minutes the example alert uses.
pub const ZOMBIE_AGE_BUCKETS: [f64; 9] = [
    1.0, 10.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 21600.0, 86400.0,
];

/// The two formats a scraper can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4, for anyone who does not ask for OpenMetrics.
    Text,
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// One scan's metrics in both formats, shared by every scrape until the next scan.
#[derive(Debug, Clone)]
pub struct Exposition {
    text: Arc<[u8]>,
    openmetrics: Arc<[u8]>,
}

impl Exposition {
    /// Encodes `report`. Writing into a `String` cannot fail, so an error here would be the
    /// client crate's own.
    pub fn render(report: &Report) -> Result<Exposition, std::fmt::Error> {
        let registry = registry(report);
        let mut classic = String::new();
        prometheus_text::encode(&mut classic, &registry)?;
        let mut openmetrics = String::new();
        text::encode(&mut openmetrics, &registry)?;
        Ok(Exposition {
            text: Arc::from(classic.into_bytes()),
            openmetrics: Arc::from(openmetrics.into_bytes()),
        })
    }

    pub fn body(&self, format: Format) -> Arc<[u8]> {
        match format {
            Format::Text => Arc::clone(&self.text),
            Format::OpenMetrics => Arc::clone(&self.openmetrics),
        }
    }
}

#[derive(Debug, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

/// A parent's PID and `comm`: bounded by the top-N cut, never a command line.
#[derive(Debug, EncodeLabelSet)]
struct ParentLabels {
    parent_pid: i32,
    parent_comm: String,
}

fn count(value: u64) -> ConstGauge<i64> {
    // Gauges hold an i64; no count of processes comes near its end.
    ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX))
}

/// A gauge with labels, its series in the order given: `Family` would list them in hash order,
/// and a person reading a scrape wants the states in one order and the worst parent first.
#[derive(Debug)]
struct Series<L>(Vec<(L, u64)>);

impl<L: EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static> EncodeMetric for Series<L> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, value) in &self.0 {
            count(*value).encode(encoder.encode_family(labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

fn seconds(value: f64) -> ConstGauge<f64> {
    ConstGauge::new(value)
}

/// A fresh registry holding `report`: the metrics describe the last scan, so nothing is kept
/// from one scan to the next (a parent whose zombies were reaped loses its series at once).
fn registry(report: &Report) -> Registry {
    let mut registry = Registry::with_prefix("brood");

    let processes = STATE_LABELS
        .into_iter()
        .zip(report.processes_by_state)
        .map(|(state, n)| (StateLabels { state }, n));
    registry.register(
        "processes",
        "Processes and kernel threads by kernel state, at the last scan",
        Series(processes.collect()),
    );

    let ages = Histogram::new(ZOMBIE_AGE_BUCKETS);
    for &age in &report.zombie_ages {
        ages.observe(age);
    }
    registry.register_with_unit(
        "zombie_age",
        "How long each zombie of the last scan has been one (its count is the number of zombies); \
         a zombie already there when the exporter started is aged from then. A distribution of \
         the zombies present now, not of events: read the buckets, do not rate() them",
        Unit::Seconds,
        ages,
    );
    registry.register_with_unit(
        "zombie_oldest_age",
        "Age of the oldest zombie, 0 when there is none",
        Unit::Seconds,
        seconds(report.zombie_ages.iter().copied().fold(0.0, f64::max)),
    );

    let by_parent = report.zombie_parents.iter().map(|parent| {
        let labels = ParentLabels {
            parent_pid: parent.pid,
            parent_comm: parent.comm.to_string(),
        };
        (labels, parent.zombies)
    });
    registry.register(
        "zombies_by_parent",
        format!(
            "Unreaped children of the parents with the most of them (the top \
             {ZOMBIE_PARENTS_SHOWN}): the parent must wait() for them"
        ),
        Series(by_parent.collect()),
    );
    registry.register(
        "zombie_parents",
        "Processes with at least one zombie child, all of them",
        count(report.zombie_parent_count),
    );

    registry.register(
        "orphans_adopted",
        "Processes seen losing their parent and being adopted (by PID 1 or a subreaper) since \
         the exporter started",
        ConstCounter::new(report.orphans_adopted),
    );

    registry.register(
        "deadlock_cycles",
        "Cycles of processes that wait only for each other (file locks, pipes)",
        count(report.deadlock_cycles),
    );
    registry.register(
        "deadlocked_processes",
        "Processes on a deadlock cycle",
        count(report.deadlocked_processes),
    );
    registry.register(
        "deadlock_unreadable_processes",
        "Processes the deadlock sweep could not judge (permission): sleeping where the kernel \
         hides the wait channel, or holding descriptors it needed and could not read; a cycle \
         through them can be neither found nor ruled out",
        count(report.unreadable_processes),
    );

    registry.register(
        "disk_sleep_stuck_processes",
        "Processes seen in uninterruptible sleep (D) at every scan for at least the threshold",
        count(report.disk_sleep_stuck),
    );
    registry.register_with_unit(
        "disk_sleep_longest",
        "Longest time a process has been seen in D at every scan, 0 when none is in D",
        Unit::Seconds,
        seconds(report.disk_sleep_longest_secs),
    );
    registry.register_with_unit(
        "disk_sleep_threshold",
        "The exporter's --d-state-threshold",
        Unit::Seconds,
        seconds(report.disk_sleep_threshold_secs),
    );

    registry.register_with_unit(
        "scan_duration",
        "How long brood's last scan took (process table and deadlock sweep)",
        Unit::Seconds,
        seconds(report.scan.duration_secs),
    );
    registry.register(
        "scans",
        "Scans brood made since the exporter started",
        ConstCounter::new(report.scan.scans),
    );
    registry.register(
        "scan_errors",
        "Scans that failed (/proc could not be listed); the metrics stay those of the last good one",
        ConstCounter::new(report.scan.errors),
    );
    registry
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::observe::{ScanStats, ZombieParent};

    fn report() -> Report {
        let mut processes_by_state = [0; STATE_LABELS.len()];
        processes_by_state[1] = 40;
        processes_by_state[5] = 3;
        Report {
            processes_by_state,
            zombie_ages: vec![5.0, 700.0, 30.0],
            zombie_parents: vec![ZombieParent {
                pid: 77,
                comm: "say \"hi\"\\".into(),
                zombies: 3,
            }],
            zombie_parent_count: 1,
            orphans_adopted: 4,
            scan: ScanStats {
                duration_secs: 0.25,
                scans: 9,
                errors: 1,
            },
            ..Report::default()
        }
    }

    fn text_of(format: Format) -> String {
        let exposition = Exposition::render(&report()).unwrap();
        String::from_utf8(exposition.body(format).to_vec()).unwrap()
    }

    #[test]
    fn the_text_format_names_counters_with_total_and_has_no_eof() {
        let text = text_of(Format::Text);
        assert!(
            text.contains("# TYPE brood_orphans_adopted_total counter\n"),
            "{text}"
        );
        assert!(text.contains("\nbrood_orphans_adopted_total 4\n"), "{text}");
        assert!(text.contains("\nbrood_scan_errors_total 1\n"), "{text}");
        assert!(!text.contains("# EOF"), "{text}");
    }

    #[test]
    fn openmetrics_ends_with_eof() {
        let text = text_of(Format::OpenMetrics);
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(
            text.contains("# TYPE brood_orphans_adopted counter\n"),
            "{text}"
        );
        assert!(text.contains("\nbrood_orphans_adopted_total 4\n"), "{text}");
    }

    #[test]
    fn every_state_has_a_series_and_zombie_ages_fill_the_buckets() {
        let text = text_of(Format::Text);
        for state in STATE_LABELS {
            assert!(
                text.contains(&format!("brood_processes{{state=\"{state}\"}} ")),
                "{state}: {text}"
            );
        }
        assert!(text.contains("brood_processes{state=\"sleeping\"} 40\n"));
        assert!(
            text.contains("brood_zombie_age_seconds_bucket{le=\"10\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("brood_zombie_age_seconds_bucket{le=\"600\"} 2\n"));
        assert!(text.contains("brood_zombie_age_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("brood_zombie_age_seconds_count 3\n"));
        assert!(
            text.contains("brood_zombie_oldest_age_seconds 700.0\n"),
            "{text}"
        );
    }

    #[test]
    fn a_parent_label_is_escaped_and_every_family_has_help_and_type() {
        let text = text_of(Format::Text);
        assert!(
            text.contains(
                "brood_zombies_by_parent{parent_pid=\"77\",parent_comm=\"say \\\"hi\\\"\\\\\"} 3\n"
            ),
            "{text}"
        );
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| text.contains(&format!("# TYPE {base} histogram")))
                .unwrap_or(name);
            assert!(text.contains(&format!("# HELP {family} ")), "{line}");
            assert!(text.contains(&format!("# TYPE {family} ")), "{line}");
        }
    }
}
