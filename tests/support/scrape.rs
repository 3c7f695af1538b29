//! Scraping an exporter the way Prometheus does, over plain TCP on loopback, and reading the
//! exposition back: one HTTP/1.1 request a connection, and a parser of the text formats.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The `Accept` header Prometheus sends (OpenMetrics preferred, the text format accepted).
pub const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,\
    application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// One HTTP response.
#[derive(Debug)]
pub struct Scraped {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Scraped {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field
                .trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }
}

/// `GET path` from `address`, with an `Accept` header if given. Errors are returned, not
/// panicked on, so a caller can count a failed scrape.
pub fn get(address: SocketAddr, path: &str, accept: Option<&str>) -> io::Result<Scraped> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\n{accept}Connection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8(raw).map_err(|e| io::Error::other(e.to_string()))?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::other(format!("no end of headers in {text:?}")))?;
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
    let scraped = Scraped {
        status,
        headers: headers.to_string(),
        body: body.to_string(),
    };
    if let Some(length) = scraped.header("Content-Length")
        && length.parse() != Ok(scraped.body.len())
    {
        return Err(io::Error::other(format!(
            "body of {} bytes, Content-Length {length}",
            scraped.body.len()
        )));
    }
    Ok(scraped)
}

/// One sample line of an exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The samples of an exposition (text format or OpenMetrics), with label values unescaped.
/// Every sample must belong to a family announced by `# HELP` and `# TYPE` lines (a histogram's
/// `_bucket`, `_sum` and `_count`, an OpenMetrics counter's `_total`, to their base name).
pub fn parse(exposition: &str) -> Result<Vec<Sample>, String> {
    let mut helped = Vec::new();
    let mut typed = Vec::new();
    let mut samples = Vec::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.push(rest.split(' ').next().unwrap_or_default().to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.push(rest.split(' ').next().unwrap_or_default().to_string());
        } else if line.starts_with('#') || line.is_empty() {
            continue;
        } else {
            let sample = parse_sample(line).ok_or_else(|| format!("bad sample line {line:?}"))?;
            let family = ["", "_bucket", "_sum", "_count", "_total"]
                .iter()
                .filter_map(|suffix| sample.name.strip_suffix(suffix))
                .find(|base| typed.iter().any(|t| t == base))
                .ok_or_else(|| format!("no # TYPE for {line:?}"))?;
            if !helped.iter().any(|h| h == family) {
                return Err(format!("no # HELP for {line:?}"));
            }
            samples.push(sample);
        }
    }
    Ok(samples)
}

fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = rest.split_once("=\"")?;
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next()? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    (_, c) => value.push(c),
                }
            };
            labels.push((key.trim_start_matches(',').to_string(), value));
            rest = &after[end + 1..];
        }
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// The value of the one sample named `name` with no labels.
pub fn value(samples: &[Sample], name: &str) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && s.labels.is_empty())
        .map(|s| s.value)
}
