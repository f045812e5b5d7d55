//! The front door's own view of latency: lines of nginx's access log
//! (`.stack/logs/nginx-access.log`, format `stack` of `deploy/local/nginx.conf`):
//!
//! ```text
//! 127.0.0.1 [2026-11-29T16:00:00+00:00] "POST /user_tags HTTP/1.1" 204 0 rt=0.003 urt=0.002 ua="127.0.0.1:8081"
//! ```
//!
//! `rt` is nginx's `$request_time` (first byte read to last byte sent, millisecond
//! resolution) and `urt` the upstream's answer time. A benchmark remembers where the
//! log ends before a phase ([`LogTail::at_end`]) and reads the lines written after it.
//! nginx buffers the log (64 KiB, flushed every second): wait a little over a second
//! after the phase before reading.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// One request as the access log records it.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessLine {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The path with its query string.
    pub path: String,
    /// The status answered.
    pub status: u16,
    /// `$request_time`, milliseconds.
    pub request_ms: f64,
    /// `$upstream_response_time` of the last upstream tried, milliseconds (none when
    /// nginx answered itself).
    pub upstream_ms: Option<f64>,
}

/// Parses one access-log line; `None` for a line of another format.
pub fn parse_line(line: &str) -> Option<AccessLine> {
    let (_, rest) = line.split_once("] \"")?;
    let (request, rest) = rest.split_once('"')?;
    let mut request_parts = request.split_whitespace();
    let method = request_parts.next()?.to_owned();
    let path = request_parts.next()?.to_owned();
    let mut fields = rest.split_whitespace();
    let status = fields.next()?.parse().ok()?;
    let seconds_to_ms = |text: &str| {
        text.trim()
            .parse::<f64>()
            .ok()
            .map(|seconds| seconds * 1000.0)
    };
    let request_ms = fields
        .find_map(|field| field.strip_prefix("rt="))
        .and_then(seconds_to_ms);
    // Several upstreams tried give "urt=0.001, 0.150": the last one answered.
    let upstream_ms = rest.split_once(" urt=").and_then(|(_, times)| {
        let times = times.split_once(" ua=").map_or(times, |(times, _)| times);
        times.rsplit(',').next().and_then(seconds_to_ms)
    });
    Some(AccessLine {
        method,
        path,
        status,
        request_ms: request_ms?,
        upstream_ms,
    })
}

/// Reads what an access log gains after a point.
#[derive(Debug, Clone)]
pub struct LogTail {
    path: PathBuf,
    offset: u64,
}

impl LogTail {
    /// Remembers where `path` ends now (a missing file counts as empty).
    pub fn at_end(path: &Path) -> Self {
        let offset = std::fs::metadata(path).map_or(0, |metadata| metadata.len());
        Self {
            path: path.to_owned(),
            offset,
        }
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lines written since, parsed (lines of another format skipped; an unreadable
    /// file gives none).
    pub fn read_new(&self) -> std::io::Result<Vec<AccessLine>> {
        let mut file = std::fs::File::open(&self.path)?;
        let length = file.metadata()?.len();
        // A rotated (shorter) log starts again from its beginning.
        let start = if length < self.offset { 0 } else { self.offset };
        file.seek(SeekFrom::Start(start))?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        Ok(text.lines().filter_map(parse_line).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxied_request_gives_both_times() {
        let line = r#"127.0.0.1 [2026-11-29T16:00:00+00:00] "POST /user_tags HTTP/1.1" 204 0 rt=0.003 urt=0.002 ua="127.0.0.1:8081""#;
        let parsed = parse_line(line).expect("a stack line");
        assert_eq!(parsed.method, "POST");
        assert_eq!(parsed.path, "/user_tags");
        assert_eq!(parsed.status, 204);
        assert!((parsed.request_ms - 3.0).abs() < 1e-9);
        assert_eq!(parsed.upstream_ms.map(|ms| ms.round()), Some(2.0));
    }

    #[test]
    fn nginx_own_answers_and_retries_are_understood() {
        let own = r#"127.0.0.1 [2026-11-29T16:00:00+00:00] "GET /nowhere HTTP/1.1" 404 10 rt=0.000 urt=- ua="-""#;
        let parsed = parse_line(own).expect("a stack line");
        assert_eq!(parsed.status, 404);
        assert_eq!(parsed.upstream_ms, None);
        let retried = r#"127.0.0.1 [2026-11-29T16:00:00+00:00] "POST /user_profiles/c?time_range=a_b HTTP/1.1" 503 0 rt=0.151 urt=0.001, 0.150 ua="a, b""#;
        let parsed = parse_line(retried).expect("a stack line");
        assert_eq!(parsed.path, "/user_profiles/c?time_range=a_b");
        assert!((parsed.request_ms - 151.0).abs() < 1e-9);
        assert_eq!(parsed.upstream_ms.map(|ms| ms.round()), Some(150.0));
    }

    #[test]
    fn other_lines_are_skipped() {
        assert_eq!(parse_line(""), None);
        assert_eq!(
            parse_line("2026/11/29 16:00:00 [warn] 1#1: something"),
            None
        );
        assert_eq!(
            parse_line(r#"127.0.0.1 [t] "POST /user_tags HTTP/1.1" 204 0 urt=0.002"#),
            None
        );
    }

    #[test]
    fn only_lines_written_after_the_mark_are_read() {
        let path = std::env::temp_dir().join(format!("bench-nginx-{}.log", std::process::id()));
        let line = |status: u16| {
            format!("127.0.0.1 [t] \"POST /user_tags HTTP/1.1\" {status} 0 rt=0.001 urt=0.001 ua=\"x\"\n")
        };
        std::fs::write(&path, line(204)).expect("write log");
        let tail = LogTail::at_end(&path);
        let mut text = line(204);
        text.push_str(&line(503));
        std::fs::write(&path, text).expect("write log");
        let statuses: Vec<u16> = tail
            .read_new()
            .expect("read log")
            .iter()
            .map(|line| line.status)
            .collect();
        assert_eq!(statuses, vec![503]);
        let _ = std::fs::remove_file(&path);
    }
}
