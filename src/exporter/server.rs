//! The HTTP side: `/metrics` answers with the latest exposition in the format the scraper's
//! `Accept` header asks for, `/` with a page linking to it, anything else 404. It only answers:
//! it never scans, and writes nothing but the response.

use std::io::Cursor;
use std::sync::Arc;

use tiny_http::{Header, Method, Request, Response, StatusCode};

use super::metrics::{Exposition, Format};

const INDEX: &str = "<!DOCTYPE html>\n<html><head><title>brood exporter</title></head><body>\n\
<h1>brood exporter</h1>\n<p><a href=\"/metrics\">/metrics</a>: zombies and who leaves them, \
orphans, deadlocks and processes stuck in D, for Prometheus.</p>\n</body></html>\n";

/// What to answer, decided from the request alone (tested without a socket).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Arc<[u8]>,
    /// Whether the body depends on the `Accept` header (a cache must key on it).
    pub negotiated: bool,
}

impl Reply {
    fn text(status: u16, text: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: Arc::from(text.as_bytes()),
            negotiated: false,
        }
    }
}

/// The reply to `method url`, with the scraper's `Accept` header.
pub fn reply(method: &Method, url: &str, accept: Option<&str>, latest: &Exposition) -> Reply {
    if !matches!(method, Method::Get | Method::Head) {
        return Reply::text(405, "only GET and HEAD\n");
    }
    let path = url.split(['?', '#']).next().unwrap_or_default();
    match path {
        "/metrics" => {
            let format = negotiate(accept);
            Reply {
                status: 200,
                content_type: format.content_type(),
                body: latest.body(format),
                negotiated: true,
            }
        }
        "/" => Reply {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: Arc::from(INDEX.as_bytes()),
            negotiated: false,
        },
        _ => Reply::text(404, "not found: the metrics are at /metrics\n"),
    }
}

/// OpenMetrics if the client asks for it at least as much as for plain text, else the
/// Prometheus text format (also for no `Accept` at all, or `*/*` as curl sends).
pub fn negotiate(accept: Option<&str>) -> Format {
    let (mut openmetrics, mut text) = (0.0f32, 0.0f32);
    for range in accept.unwrap_or_default().split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.split_once('='))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, q)| q.trim().parse::<f32>().ok())
            .unwrap_or(0.0);
        match media.as_str() {
            "application/openmetrics-text" => openmetrics = openmetrics.max(quality),
            "text/plain" | "text/*" | "*/*" => text = text.max(quality),
            _ => {}
        }
    }
    if openmetrics > 0.0 && openmetrics >= text {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// Answers one request. A client that went away meanwhile is not an error of the exporter's.
pub fn respond(request: Request, latest: &Exposition) {
    let accept = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Accept"))
        .map(|h| h.value.as_str().to_owned());
    let reply = reply(request.method(), request.url(), accept.as_deref(), latest);
    let length = reply.body.len();
    let mut headers = vec![("Content-Type", reply.content_type)];
    if reply.negotiated {
        headers.push(("Vary", "Accept"));
    }
    if reply.status == 405 {
        headers.push(("Allow", "GET, HEAD"));
    }
    let headers = headers
        .into_iter()
        .filter_map(|(field, value)| Header::from_bytes(field, value).ok())
        .collect();
    let response = Response::new(
        StatusCode(reply.status),
        headers,
        Cursor::new(reply.body),
        Some(length),
        None,
    );
    let _ = request.respond(response);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::observe::Report;

    const PROMETHEUS: &str = "application/openmetrics-text;version=1.0.0;q=0.5,\
        application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

    #[test]
    fn openmetrics_only_when_asked_for() {
        assert_eq!(negotiate(Some(PROMETHEUS)), Format::OpenMetrics);
        assert_eq!(
            negotiate(Some("application/openmetrics-text")),
            Format::OpenMetrics
        );
        assert_eq!(negotiate(None), Format::Text);
        assert_eq!(negotiate(Some("*/*")), Format::Text);
        assert_eq!(negotiate(Some("text/plain;version=0.0.4")), Format::Text);
        assert_eq!(
            negotiate(Some("text/plain;q=0.9, application/openmetrics-text;q=0.5")),
            Format::Text
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=0")),
            Format::Text
        );
        assert_eq!(negotiate(Some(";;,q=,==")), Format::Text, "garbage");
    }

    #[test]
    fn routes_metrics_index_and_nothing_else() {
        let latest = Exposition::render(&Report::default()).unwrap();
        let metrics = reply(&Method::Get, "/metrics?x=1", Some(PROMETHEUS), &latest);
        assert_eq!(metrics.status, 200);
        assert_eq!(metrics.content_type, Format::OpenMetrics.content_type());
        assert!(metrics.body.ends_with(b"# EOF\n"));
        assert!(metrics.negotiated);

        let plain = reply(&Method::Head, "/metrics", None, &latest);
        assert_eq!(plain.content_type, Format::Text.content_type());
        assert_eq!(plain.body, latest.body(Format::Text));

        let index = reply(&Method::Get, "/", None, &latest);
        assert_eq!(index.status, 200);
        assert!(
            std::str::from_utf8(&index.body)
                .unwrap()
                .contains("href=\"/metrics\"")
        );

        assert_eq!(reply(&Method::Get, "/metricsx", None, &latest).status, 404);
        assert_eq!(
            reply(&Method::Get, "/favicon.ico", None, &latest).status,
            404
        );
        assert_eq!(reply(&Method::Post, "/metrics", None, &latest).status, 405);
    }
}
