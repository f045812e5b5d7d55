//! An HTTP/1.1 exchange byte for byte: the request target, headers and body go out
//! exactly as given (no URL parsing, no normalisation of `..`, no encoding, no length
//! limit), one connection per request (`Connection: close`). Hostile-input tests use it
//! to send what a well-behaved client library refuses to, and read whatever comes back,
//! the server's own parse errors included.

use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response as it came back.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(found, _)| found == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The bytes of a request: `method target HTTP/1.1`, a `Host`, the given headers, a
/// `Content-Length` for `body`, `Connection: close`.
pub fn request(method: &str, target: &[u8], headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(target.len() + body.len() + 256);
    bytes.extend_from_slice(method.as_bytes());
    bytes.push(b' ');
    bytes.extend_from_slice(target);
    bytes.extend_from_slice(b" HTTP/1.1\r\nhost: test\r\nconnection: close\r\n");
    for (name, value) in headers {
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// Sends `request` to `address` (`host:port`) on a new connection and reads the
/// response until the server closes, within `timeout`.
pub async fn exchange(address: &str, request: &[u8], timeout: Duration) -> io::Result<RawResponse> {
    let exchanged = async {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        // A server may answer and close before reading all of a large request (a 414,
        // say): reading goes on while writing, and the answer counts even if the write
        // then fails.
        let (mut reader, mut writer) = stream.into_split();
        let mut response = Vec::new();
        let (written, read) = tokio::join!(
            // No half-close after writing: hyper takes an early end of stream as the
            // client gone. The server closes after answering (`Connection: close`).
            writer.write_all(request),
            reader.read_to_end(&mut response)
        );
        match (written, read) {
            (_, Ok(_)) if !response.is_empty() => Ok(response),
            (Err(error), _) | (_, Err(error)) => Err(error),
            (Ok(()), Ok(_)) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed without a response",
            )),
        }
    };
    let response = tokio::time::timeout(timeout, exchanged)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no response in time"))??;
    // A response to HEAD has the headers of the GET's but never a body.
    parse(&response, request.starts_with(b"HEAD "))
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

fn parse(response: &[u8], answers_head: bool) -> io::Result<RawResponse> {
    let head_end = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| invalid("no end of headers"))?;
    let head = String::from_utf8_lossy(&response[..head_end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let rest = &response[head_end + 4..];
    let mut parsed = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    parsed.body = if answers_head {
        Vec::new()
    } else if parsed
        .header("transfer-encoding")
        .is_some_and(|coding| coding.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)?
    } else if let Some(length) = parsed
        .header("content-length")
        .and_then(|length| length.parse::<usize>().ok())
    {
        rest.get(..length)
            .ok_or_else(|| invalid("body shorter than its content-length"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(parsed)
}

fn dechunk(mut rest: &[u8]) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|window| window == b"\r\n")
            .ok_or_else(|| invalid("unterminated chunk size"))?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| invalid("bad chunk size"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest
            .get(..size)
            .ok_or_else(|| invalid("chunk shorter than its size"))?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_parse_with_a_length_or_in_chunks() {
        let sized = parse(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}",
            false,
        )
        .expect("parses");
        assert_eq!(
            (sized.status, sized.body.as_slice()),
            (400, b"{}".as_slice())
        );
        let chunked = parse(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            false,
        )
        .expect("parses");
        assert_eq!(chunked.body, b"abcde");
        assert!(parse(b"garbage", false).is_err());
        // A HEAD's answer announces the GET's length but carries no body.
        let head = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n", true).expect("parses");
        assert!(head.body.is_empty());
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n", false).is_err());
    }
}
