//! A fault-injecting HTTP proxy on loopback, in front of moto: flaky AWS on demand.
//!
//! ```no_run
//! use stackctl_testkit::{FaultProxy, Faults, Moto};
//! let moto = Moto::start();
//! let proxy = FaultProxy::start(&moto.endpoint, Faults::rate(0.2).with_seed(7));
//! // Point the SDK (or `AWS_ENDPOINT_URL`) at `proxy.endpoint`, run, then:
//! eprintln!("{}", proxy.stats());
//! ```
//!
//! For each HTTP request the proxy first sleeps [`Faults::latency`], then, with probability
//! [`Faults::failure_rate`], answers it with a fault drawn from [`Faults::mix`] *instead of*
//! forwarding it, so a fault never has a side effect in moto:
//!
//! - [`Fault::Http500`] / [`Fault::Http503`]: an internal-error / unavailable answer, in the
//!   error format of the service's protocol;
//! - [`Fault::Throttle`]: the service's throttling error (`ThrottlingException` for the JSON
//!   protocols, `Throttling` for the query protocol, `RequestLimitExceeded` for EC2);
//! - [`Fault::Drop`]: the connection is closed without an answer;
//! - [`Fault::Timeout`]: the request is held for [`Faults::hold`] (longer than the client's
//!   per-attempt timeout), then the connection is closed without an answer.
//!
//! One more kind is not in the default mix and breaks that rule on purpose:
//! [`Fault::LostAnswer`] forwards the request, then closes the connection instead of relaying
//! moto's answer, as when a connection breaks after AWS did the work. A retried create then
//! meets the resource its first attempt made.
//!
//! A fault can also be aimed at given requests whatever the rate ([`Faults::on_nth`],
//! [`Faults::from_nth`]): "lose the answer to the 2nd `PUT /bucket/key`", "409 on the first
//! `DELETE` of the lock object" ([`Fault::Conflict`], S3's `ConditionalRequestConflict`).
//!
//! Everything else is forwarded to moto and the answer relayed. The draws come from a small
//! xorshift generator seeded with [`Faults::seed`]: the sequence of decisions is the same for
//! the same seed (which request gets which decision depends on the order requests arrive in).
//!
//! The proxy counts what it did ([`FaultProxy::stats`]) and keeps a log of every request
//! ([`FaultProxy::events`]) so a test can say which AWS operation got which fault. It listens on
//! `127.0.0.1` only, forwards only to a loopback upstream, and stops when dropped.
//!
//! It is a small HTTP/1.1 server of its own (requests are parsed with `httparse`; answers are
//! relayed with hyper's client): the AWS SDK and moto speak plain HTTP/1.1 on loopback.
//!
//! Here: the proxy's face ([`FaultProxy`]); `faults` (what it does to the traffic, and the
//! draws), `record` (its counts and log), `serve` (each connection's requests), `http` (the
//! HTTP/1.1 reading and writing), `aws` (what AWS call a request is, and AWS's error answers)
//! and `forward` (the relay to moto).

mod aws;
mod faults;
mod forward;
mod http;
mod record;
mod serve;

pub use faults::{Fault, Faults, Scheduled, DEFAULT_MIX};
pub use record::{Event, Outcome, Stats};

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use faults::Draws;
use record::Recorder;
use serve::{accept_loop, Shared};

/// A running fault-injecting proxy; stopped when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`: give this to the SDK or to `AWS_ENDPOINT_URL`.
    pub endpoint: String,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Start a proxy on a free `127.0.0.1` port in front of `upstream` (moto's endpoint, which
    /// must be on loopback).
    pub fn start(upstream: &str, cfg: Faults) -> FaultProxy {
        let upstream = upstream.trim_end_matches('/').to_owned();
        assert!(
            is_loopback_http(&upstream),
            "the fault proxy forwards only to plain HTTP on loopback, not {upstream}"
        );
        assert!(
            (0.0..=1.0).contains(&cfg.failure_rate),
            "failure_rate {} is not within 0.0..=1.0",
            cfg.failure_rate
        );
        assert!(
            cfg.failure_rate == 0.0 || cfg.mix.iter().any(|(_, w)| *w > 0),
            "the fault mix is empty"
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("listener address");
        let shared = Arc::new(Shared {
            lifecycle: cfg.lifecycle.clone().map(crate::lifecycle::Lifecycle::new),
            draws: Draws::new(cfg.seed),
            log: Recorder::new(cfg.keep_bodies),
            cfg,
            upstream,
        });
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("fault-proxy-worker")
                    .enable_all()
                    .build()
                    .expect("proxy runtime");
                rt.block_on(accept_loop(listener, sh, rx));
                // Connections still open (held timeouts, idle keep-alives) are dropped here.
                rt.shutdown_timeout(Duration::from_millis(200));
            })
            .expect("spawn the proxy thread");
        FaultProxy {
            endpoint: format!("http://{addr}"),
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// What the proxy did so far.
    pub fn stats(&self) -> Stats {
        self.shared.log.stats()
    }

    /// The most requests that were in flight at once (received, not yet answered) since the
    /// last call, and start counting again from those in flight now. With latency added, this
    /// shows how many requests a client sends together instead of one after the other.
    pub fn take_peak_in_flight(&self) -> u64 {
        self.shared.log.take_peak_in_flight()
    }

    /// What the lifecycle layer did (zeros without one).
    pub fn layer_stats(&self) -> crate::lifecycle::LayerStats {
        self.shared
            .lifecycle
            .as_ref()
            .map(|l| l.stats())
            .unwrap_or_default()
    }

    /// The bodies of the requests for `operation` so far, in order (kept only with
    /// [`Faults::with_bodies`]).
    pub fn bodies(&self, operation: &str) -> Vec<String> {
        self.events()
            .into_iter()
            .filter(|e| e.operation == operation)
            .filter_map(|e| e.body)
            .collect()
    }

    /// Every request handled so far, in the order the decisions were made.
    pub fn events(&self) -> Vec<Event> {
        self.shared.log.events()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `http://127.x.x.x[:port]`, `http://localhost[:port]` or `http://[::1][:port]`.
fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next() == Some("::1");
    }
    let host = authority.split(':').next().unwrap_or_default();
    host == "localhost"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_upstreams() {
        assert!(is_loopback_http("http://127.0.0.1:5000"));
        assert!(is_loopback_http("http://localhost:5000/"));
        assert!(is_loopback_http("http://[::1]:5000"));
        assert!(!is_loopback_http("https://127.0.0.1:5000"));
        assert!(!is_loopback_http("http://10.0.0.1:5000"));
        assert!(!is_loopback_http("http://127.0.0.1.example.com"));
        assert!(!is_loopback_http("http://user@example.com"));
    }
}
