//! Serving the proxy's connections: each request read, then delayed, failed, refused by the
//! lifecycle layer, or forwarded to moto with its answer rewritten, and recorded.

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::aws::{error_answer, fault_answer};
use super::faults::{Decision, Draws, Fault, Faults};
use super::forward::{forward, new_client, Upstream};
use super::http::{answer_bytes, read_request};
use super::record::{Outcome, Recorder};
use crate::lifecycle::Lifecycle;

/// What every connection of one proxy shares.
pub(super) struct Shared {
    pub(super) cfg: Faults,
    pub(super) lifecycle: Option<Lifecycle>,
    pub(super) upstream: String,
    pub(super) draws: Draws,
    pub(super) log: Recorder,
}

/// Accept connections until `shutdown`, each served on its own task.
pub(super) async fn accept_loop(
    listener: std::net::TcpListener,
    sh: Arc<Shared>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let client = new_client();
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                let Ok((sock, _)) = accepted else { continue };
                let _ = sock.set_nodelay(true);
                tokio::spawn(serve_connection(sock, sh.clone(), client.clone()));
            }
        }
    }
}

/// One connection: its requests one after the other, until it closes or a fault drops it.
async fn serve_connection(mut sock: TcpStream, sh: Arc<Shared>, client: Upstream) {
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        let req = match read_request(&mut sock, &mut buf).await {
            Ok(Some(req)) => req,
            // The client closed the connection, or sent something that is not HTTP.
            Ok(None) | Err(_) => return,
        };
        let _in_flight = sh.log.received();
        if !sh.cfg.latency.is_zero() {
            tokio::time::sleep(sh.cfg.latency).await;
        }
        let keep_alive = req.keep_alive();
        let answer = match sh.draws.decide(&sh.cfg, &req.operation()) {
            Decision::Fault(fault) => {
                sh.log.record(&req, Outcome::Fault(fault));
                match fault {
                    Fault::Drop => return,
                    Fault::Timeout => {
                        tokio::time::sleep(sh.cfg.hold).await;
                        return;
                    }
                    Fault::LostAnswer => {
                        // Whatever moto answers (or fails to), the client never hears it.
                        let _ = forward(&sh.upstream, &client, &req).await;
                        return;
                    }
                    Fault::Http500
                    | Fault::Http503
                    | Fault::Throttle
                    | Fault::AccessDenied
                    | Fault::ExpiredToken
                    | Fault::Conflict => fault_answer(&req, fault, keep_alive),
                }
            }
            Decision::Forward => {
                let call = sh.lifecycle.as_ref().map(|_| req.call());
                let refusal = match (&sh.lifecycle, &call) {
                    (Some(l), Some(c)) => l.before(c),
                    _ => None,
                };
                let rewritten = match (&sh.lifecycle, &call) {
                    (Some(l), Some(c)) => l.request(c),
                    _ => None,
                };
                let mut req = req;
                if let Some(body) = rewritten {
                    req.headers
                        .retain(|(k, _)| !k.eq_ignore_ascii_case("content-length"));
                    req.headers
                        .push(("content-length".into(), body.len().to_string().into_bytes()));
                    req.body = Bytes::from(body);
                }
                if let Some(r) = refusal {
                    let answer = match &r.body {
                        // An answer for a call moto does not implement.
                        Some(body) => {
                            sh.log.record(&req, Outcome::Forwarded(r.status));
                            answer_bytes(
                                &req,
                                r.status,
                                &[("content-type".into(), b"application/json".to_vec())],
                                body.as_bytes(),
                                keep_alive,
                                false,
                            )
                        }
                        None => {
                            sh.log.record(&req, Outcome::Refused(r.code.clone()));
                            error_answer(&req, r.status, &r.code, &r.message, true, keep_alive)
                        }
                    };
                    if sock.write_all(&answer).await.is_err() || sock.flush().await.is_err() {
                        return;
                    }
                    continue;
                }
                match forward(&sh.upstream, &client, &req).await {
                    Ok((status, mut headers, body)) => {
                        sh.log.record(&req, Outcome::Forwarded(status));
                        let (status, body) = match (&sh.lifecycle, &call) {
                            (Some(l), Some(c)) => {
                                let mut body = body.to_vec();
                                let new = l.after(c, status, &mut body);
                                if new != status && (200..300).contains(&new) {
                                    // An answer for moto: its error headers no longer apply.
                                    headers.retain(|(k, _)| {
                                        !k.eq_ignore_ascii_case("x-amzn-errortype")
                                    });
                                }
                                (new, Bytes::from(body))
                            }
                            _ => (status, body),
                        };
                        answer_bytes(&req, status, &headers, &body, keep_alive, true)
                    }
                    Err(e) => {
                        sh.log.record(&req, Outcome::UpstreamError);
                        let body = format!("fault proxy: upstream error: {e}");
                        answer_bytes(
                            &req,
                            502,
                            &[("content-type".into(), b"text/plain".to_vec())],
                            body.as_bytes(),
                            keep_alive,
                            false,
                        )
                    }
                }
            }
        };
        if sock.write_all(&answer).await.is_err() || sock.flush().await.is_err() {
            return;
        }
        if !keep_alive {
            let _ = sock.shutdown().await;
            return;
        }
    }
}
