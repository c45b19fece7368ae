//! The proxy's own small HTTP/1.1 server side: reading a request off the connection (head
//! with `httparse`, then a body by content-length or chunked) and writing an answer.

use std::io;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One parsed HTTP/1.1 request.
pub(super) struct Request {
    pub(super) method: String,
    pub(super) path: String,
    /// HTTP/1.0 (close unless keep-alive) rather than 1.1.
    pub(super) http10: bool,
    pub(super) headers: Vec<(String, Vec<u8>)>,
    /// The body came chunked (decoded into `body`).
    pub(super) chunked: bool,
    pub(super) body: Bytes,
}

impl Request {
    /// A header's value, by its name in any case.
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// Whether the connection stays open after the answer.
    pub(super) fn keep_alive(&self) -> bool {
        let conn = self
            .header("connection")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if self.http10 {
            conn.contains("keep-alive")
        } else {
            !conn.contains("close")
        }
    }
}

/// The next request on the connection; `None` when the client closed it between requests.
pub(super) async fn read_request(
    sock: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> io::Result<Option<Request>> {
    // The head.
    let (method, path, http10, headers, head_len) = loop {
        if !buf.is_empty() {
            let mut slots = [httparse::EMPTY_HEADER; 128];
            let mut parsed = httparse::Request::new(&mut slots);
            match parsed.parse(buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let headers: Vec<(String, Vec<u8>)> = parsed
                        .headers
                        .iter()
                        .map(|h| (h.name.to_owned(), h.value.to_vec()))
                        .collect();
                    break (
                        parsed.method.unwrap_or("GET").to_owned(),
                        parsed.path.unwrap_or("/").to_owned(),
                        parsed.version == Some(0),
                        headers,
                        n,
                    );
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(invalid(format!("bad request head: {e}"))),
            }
        }
        if buf.len() > MAX_HEAD {
            return Err(invalid("request head too large"));
        }
        if read_more(sock, buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
    };
    buf.drain(..head_len);
    let mut req = Request {
        method,
        path,
        http10,
        headers,
        chunked: false,
        body: Bytes::new(),
    };

    // The body.
    if req
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        sock.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    if req
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"))
    {
        req.chunked = true;
        req.body = read_chunked(sock, buf).await?.into();
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len
            .trim()
            .parse()
            .map_err(|_| invalid("bad content-length"))?;
        while buf.len() < len {
            if read_more(sock, buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        req.body = Bytes::from(buf.drain(..len).collect::<Vec<u8>>());
    }
    Ok(Some(req))
}

/// One CRLF-terminated line, without the CRLF.
async fn read_line(sock: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<String> {
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..i]).into_owned();
            buf.drain(..i + 2);
            return Ok(line);
        }
        if buf.len() > MAX_HEAD {
            return Err(invalid("line too long"));
        }
        if read_more(sock, buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// A chunked body, decoded, up to its last chunk and its trailers.
async fn read_chunked(sock: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(sock, buf).await?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !read_line(sock, buf).await?.is_empty() {}
            return Ok(body);
        }
        while buf.len() < size + 2 {
            if read_more(sock, buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

/// Headers that belong to one connection, not to the message.
pub(super) fn hop_by_hop(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

/// Read more bytes into `buf`; `Ok(0)` at end of stream.
async fn read_more(sock: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0u8; 16 * 1024];
    let n = sock.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

const MAX_HEAD: usize = 1 << 20;

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// An HTTP/1.1 answer. `relayed`: the headers come from the upstream (keep its content-length
/// for HEAD requests, whose body is not sent).
pub(super) fn answer_bytes(
    req: &Request,
    status: u16,
    headers: &[(String, Vec<u8>)],
    body: &[u8],
    keep_alive: bool,
    relayed: bool,
) -> Vec<u8> {
    let head_only = req.method.eq_ignore_ascii_case("HEAD");
    let no_body = head_only || status == 204 || status == 304 || (100..200).contains(&status);
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut out = Vec::with_capacity(body.len() + 512);
    out.extend_from_slice(format!("HTTP/1.1 {status} {reason}\r\n").as_bytes());
    for (name, value) in headers {
        if hop_by_hop(name) {
            continue;
        }
        if name.eq_ignore_ascii_case("content-length") && !(head_only && relayed) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if !no_body {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !no_body {
        out.extend_from_slice(body);
    }
    out
}
