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
//! nginx buffers the log (64 KiB, flushed every second): wait [`FLUSH_WAIT`] after the
//! phase before reading. [`StatusTimes`] summarises the lines of a phase by status.

use crate::stats::Latency;
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long to wait after a phase before its lines are all in the log: nginx flushes
/// its buffer every second (`flush=1s` of `deploy/local/nginx.conf`).
pub const FLUSH_WAIT: Duration = Duration::from_millis(1500);

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
}

impl AccessLine {
    /// Whether it is a profile query of the contract (`POST /user_profiles/...`).
    pub fn is_profile(&self) -> bool {
        self.method == "POST" && self.path.starts_with("/user_profiles/")
    }
}

/// The front door's times of a set of requests, by the status answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusTimes {
    /// Lines (requests) counted.
    pub requests: u64,
    /// `rt` of every one of them.
    pub all: Latency,
    /// `rt` of those answered 200.
    pub ok: Latency,
    /// `rt` of those answered 503.
    pub shed: Latency,
    /// Requests answered any other status.
    pub other: u64,
}

impl StatusTimes {
    /// The summary of `lines`.
    pub fn of<'a>(lines: impl IntoIterator<Item = &'a AccessLine>) -> Self {
        let (mut all, mut ok, mut shed, mut other) = (Vec::new(), Vec::new(), Vec::new(), 0);
        for line in lines {
            all.push(line.request_ms);
            match line.status {
                200 => ok.push(line.request_ms),
                503 => shed.push(line.request_ms),
                _ => other += 1,
            }
        }
        Self {
            requests: all.len() as u64,
            all: Latency::of_millis(all),
            ok: Latency::of_millis(ok),
            shed: Latency::of_millis(shed),
            other,
        }
    }
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
        .and_then(seconds_to_ms)?;
    Some(AccessLine {
        method,
        path,
        status,
        request_ms,
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
    fn a_proxied_request_gives_its_time() {
        let line = r#"127.0.0.1 [2026-11-29T16:00:00+00:00] "POST /user_tags HTTP/1.1" 204 0 rt=0.003 urt=0.002 ua="127.0.0.1:8081""#;
        let parsed = parse_line(line).expect("a stack line");
        assert_eq!(parsed.method, "POST");
        assert_eq!(parsed.path, "/user_tags");
        assert_eq!(parsed.status, 204);
        assert!((parsed.request_ms - 3.0).abs() < 1e-9);
    }

    #[test]
    fn nginx_own_answers_and_retries_are_understood() {
        let own = r#"127.0.0.1 [2026-11-29T16:00:00+00:00] "GET /nowhere HTTP/1.1" 404 10 rt=0.000 urt=- ua="-""#;
        let parsed = parse_line(own).expect("a stack line");
        assert_eq!(parsed.status, 404);
        let retried = r#"127.0.0.1 [2026-11-29T16:00:00+00:00] "POST /user_profiles/c?time_range=a_b HTTP/1.1" 503 0 rt=0.151 urt=0.001, 0.150 ua="a, b""#;
        let parsed = parse_line(retried).expect("a stack line");
        assert_eq!(parsed.path, "/user_profiles/c?time_range=a_b");
        assert!((parsed.request_ms - 151.0).abs() < 1e-9);
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
    fn profile_lines_are_summarised_by_status() {
        let line = |method: &str, path: &str, status: u16, rt: &str| {
            parse_line(&format!(
                "127.0.0.1 [t] \"{method} {path} HTTP/1.1\" {status} 0 rt={rt} urt=0.001 ua=\"x\""
            ))
            .expect("a stack line")
        };
        let lines = [
            line("POST", "/user_profiles/c?time_range=a_b", 200, "0.010"),
            line("POST", "/user_profiles/d?time_range=a_b", 200, "0.030"),
            line("POST", "/user_profiles/e?time_range=a_b", 503, "0.001"),
            line("POST", "/user_profiles/f?time_range=a_b", 499, "0.200"),
            line("POST", "/user_tags", 204, "0.002"),
            line("GET", "/user_profiles/g", 405, "0.001"),
        ];
        let profiles: Vec<&AccessLine> = lines.iter().filter(|line| line.is_profile()).collect();
        assert_eq!(profiles.len(), 4);
        let times = StatusTimes::of(profiles);
        assert_eq!((times.requests, times.other), (4, 1));
        assert_eq!((times.ok.samples, times.shed.samples), (2, 1));
        assert!((times.ok.max_ms - 30.0).abs() < 0.1, "{times:?}");
        assert!((times.shed.max_ms - 1.0).abs() < 0.01, "{times:?}");
        assert!((times.all.max_ms - 200.0).abs() < 0.2, "{times:?}");
        assert_eq!(StatusTimes::of([]).requests, 0);
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
