//! Forwarding a request to the upstream (moto) with hyper's client, and its answer back.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::http::{hop_by_hop, Request};

/// The client the connections share (it pools the connections to the upstream).
pub(super) type Upstream = Client<HttpConnector, Full<Bytes>>;

pub(super) fn new_client() -> Upstream {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(5))
        .build(http)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The upstream's status, headers and body for `req`.
pub(super) async fn forward(
    upstream: &str,
    client: &Upstream,
    req: &Request,
) -> Result<(u16, Vec<(String, Vec<u8>)>, Bytes), BoxError> {
    let uri: http::Uri = format!("{upstream}{}", req.path).parse()?;
    let mut builder = http::Request::builder()
        .method(http::Method::from_bytes(req.method.as_bytes())?)
        .uri(uri);
    for (name, value) in &req.headers {
        if hop_by_hop(name) || (req.chunked && name.eq_ignore_ascii_case("content-length")) {
            continue;
        }
        builder = builder.header(name.as_str(), value.as_slice());
    }
    if req.chunked {
        builder = builder.header("content-length", req.body.len());
    }
    let upstream_req = builder.body(Full::new(req.body.clone()))?;
    let resp = client.request(upstream_req).await?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await?.to_bytes();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    Ok((parts.status.as_u16(), headers, body))
}
