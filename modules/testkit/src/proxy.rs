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

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One kind of injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// HTTP 500 with the protocol's internal-error body.
    Http500,
    /// HTTP 503 with the protocol's service-unavailable body.
    Http503,
    /// The service's throttling error (HTTP 400, or 503 `RequestLimitExceeded` for EC2).
    Throttle,
    /// The connection is closed without an answer.
    Drop,
    /// The request is held for [`Faults::hold`], then the connection is closed unanswered.
    Timeout,
    /// Not in the default mix: the request IS forwarded (it takes effect in moto), then the
    /// connection is closed without relaying the answer.
    LostAnswer,
    /// Not in the default mix: the service's access-denied answer (HTTP 403:
    /// `UnauthorizedOperation` for EC2, `AccessDenied`, `AccessDeniedException`), as for an
    /// identity that lacks a permission. Never retried by the SDK.
    AccessDenied,
    /// Not in the default mix: expired credentials (`ExpiredToken`, HTTP 403), as AWS answers
    /// a session token past its end.
    ExpiredToken,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::Http500 => "500",
            Fault::Http503 => "503",
            Fault::Throttle => "throttle",
            Fault::Drop => "drop",
            Fault::Timeout => "timeout",
            Fault::LostAnswer => "lost-answer",
            Fault::AccessDenied => "access-denied",
            Fault::ExpiredToken => "expired-token",
        })
    }
}

/// The default mix: 500, 503, throttling and dropped connections evenly, and a timeout for
/// 1 fault in 10.
pub const DEFAULT_MIX: [(Fault, u32); 5] = [
    (Fault::Http500, 9),
    (Fault::Http503, 9),
    (Fault::Throttle, 9),
    (Fault::Drop, 9),
    (Fault::Timeout, 4),
];

/// What the proxy does to the traffic.
#[derive(Clone, Debug)]
pub struct Faults {
    /// Share of requests (0.0 to 1.0) answered with a fault instead of being forwarded.
    pub failure_rate: f64,
    /// Added before every request is handled, fault or not.
    pub latency: Duration,
    /// Seed of the pseudo-random draws.
    pub seed: u64,
    /// How long a [`Fault::Timeout`] holds the request before dropping the connection: make it
    /// longer than the client's per-attempt timeout.
    pub hold: Duration,
    /// The faults to draw from, with their relative weights.
    pub mix: Vec<(Fault, u32)>,
    /// Only requests for these operations (named as in [`Event::operation`]) may fail; the
    /// others are forwarded without a draw. Empty: any request may fail.
    pub operations: Vec<String>,
    /// Inject at most this many faults, then forward everything.
    pub max_faults: Option<u64>,
    /// An AWS with time ([`crate::lifecycle`]): transitional states, refusals and stale reads
    /// replayed over moto per this profile. `None`: moto as it is.
    pub lifecycle: Option<crate::lifecycle::Profile>,
    /// Keep every request's body in its [`Event`].
    pub keep_bodies: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            failure_rate: 0.0,
            latency: Duration::ZERO,
            seed: 0x5eed,
            hold: Duration::from_secs(3),
            mix: DEFAULT_MIX.to_vec(),
            operations: Vec::new(),
            max_faults: None,
            lifecycle: None,
            keep_bodies: false,
        }
    }
}

impl Faults {
    /// No fault: a transparent proxy (which still counts requests).
    pub fn none() -> Faults {
        Faults::default()
    }

    /// This share of requests fails, with the default mix of faults.
    pub fn rate(failure_rate: f64) -> Faults {
        Faults {
            failure_rate,
            ..Faults::default()
        }
    }

    /// Only this kind of fault.
    pub fn only(mut self, fault: Fault) -> Faults {
        self.mix = vec![(fault, 1)];
        self
    }

    pub fn with_latency(mut self, latency: Duration) -> Faults {
        self.latency = latency;
        self
    }

    pub fn with_seed(mut self, seed: u64) -> Faults {
        self.seed = seed;
        self
    }

    pub fn with_hold(mut self, hold: Duration) -> Faults {
        self.hold = hold;
        self
    }

    /// Only requests for these operations may fail.
    pub fn for_operations(mut self, operations: &[&str]) -> Faults {
        self.operations = operations.iter().map(|s| s.to_string()).collect();
        self
    }

    /// At most this many faults in all.
    pub fn at_most(mut self, faults: u64) -> Faults {
        self.max_faults = Some(faults);
        self
    }

    /// Keep the body of every request in its [`Event`].
    pub fn with_bodies(mut self) -> Faults {
        self.keep_bodies = true;
        self
    }

    /// Replay real AWS's timeline over moto with this profile ([`crate::lifecycle`]).
    pub fn with_lifecycle(mut self, profile: crate::lifecycle::Profile) -> Faults {
        self.lifecycle = Some(profile);
        self
    }
}

/// What the proxy did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// HTTP requests received (complete requests, whatever happened to them).
    pub requests: u64,
    /// Requests forwarded to the upstream (moto), including those it failed to answer.
    pub forwarded: u64,
    pub faults_500: u64,
    pub faults_503: u64,
    pub throttles: u64,
    pub dropped: u64,
    pub timeouts: u64,
    /// [`Fault::LostAnswer`]: forwarded (and counted in `forwarded`), answer not relayed.
    pub lost_answers: u64,
    /// Forwarded requests the upstream did not answer (relayed as HTTP 502).
    pub upstream_errors: u64,
    /// [`Fault::AccessDenied`] and [`Fault::ExpiredToken`] answers.
    pub refusals: u64,
}

impl Stats {
    /// Injected faults of every kind.
    pub fn faults(&self) -> u64 {
        self.faults_500
            + self.faults_503
            + self.throttles
            + self.dropped
            + self.timeouts
            + self.lost_answers
            + self.refusals
    }

    /// Injected faults over requests (0 when there was no request).
    pub fn failure_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.faults() as f64 / self.requests as f64
        }
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &Stats) -> Stats {
        Stats {
            requests: self.requests - earlier.requests,
            forwarded: self.forwarded - earlier.forwarded,
            faults_500: self.faults_500 - earlier.faults_500,
            faults_503: self.faults_503 - earlier.faults_503,
            throttles: self.throttles - earlier.throttles,
            dropped: self.dropped - earlier.dropped,
            timeouts: self.timeouts - earlier.timeouts,
            lost_answers: self.lost_answers - earlier.lost_answers,
            upstream_errors: self.upstream_errors - earlier.upstream_errors,
            refusals: self.refusals - earlier.refusals,
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "requests={} forwarded={} faults={} ({:.1} %): 500={} 503={} throttle={} dropped={} timeout={}",
            self.requests,
            self.forwarded,
            self.faults(),
            self.failure_rate() * 100.0,
            self.faults_500,
            self.faults_503,
            self.throttles,
            self.dropped,
            self.timeouts,
        )?;
        if self.lost_answers > 0 {
            write!(f, " lost-answer={}", self.lost_answers)?;
        }
        if self.upstream_errors > 0 {
            write!(f, " upstream_errors={}", self.upstream_errors)?;
        }
        if self.refusals > 0 {
            write!(f, " refusals={}", self.refusals)?;
        }
        Ok(())
    }
}

/// What happened to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Forwarded; the upstream answered with this status.
    Forwarded(u16),
    /// Forwarded; the upstream did not answer (relayed as 502).
    UpstreamError,
    /// Answered with this fault instead.
    Fault(Fault),
    /// Refused by the lifecycle layer with this error code, as AWS refuses during a window
    /// (`DependencyViolation`, `FileSystemInUse`...); not forwarded.
    Refused(String),
}

/// One request the proxy handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The signing name in the SigV4 credential scope (`ec2`, `secretsmanager`, `iam`...).
    pub service: String,
    /// The operation: the query `Action`, the JSON `X-Amz-Target` operation, or
    /// `METHOD /path` for REST services, with ids in the path as `{id}`
    /// (`DELETE /2015-02-01/file-systems/{id}`).
    pub operation: String,
    pub outcome: Outcome,
    /// The request's body, when the proxy keeps them ([`Faults::with_bodies`]): what was sent
    /// where moto ignores it (RDS's ApplyImmediately).
    pub body: Option<String>,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Forwarded(s) => write!(f, "{} {} -> {}", self.service, self.operation, s),
            Outcome::UpstreamError => {
                write!(f, "{} {} -> upstream error", self.service, self.operation)
            }
            Outcome::Fault(x) => write!(f, "{} {} -> fault {}", self.service, self.operation, x),
            Outcome::Refused(code) => {
                write!(f, "{} {} -> refused {}", self.service, self.operation, code)
            }
        }
    }
}

/// A running fault-injecting proxy; stopped when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`: give this to the SDK or to `AWS_ENDPOINT_URL`.
    pub endpoint: String,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Keeps the event log from growing without bound in a long test.
const MAX_EVENTS: usize = 200_000;

struct Shared {
    cfg: Faults,
    lifecycle: Option<crate::lifecycle::Lifecycle>,
    upstream: String,
    /// The generator, and how many faults it decided so far.
    rng: Mutex<(XorShift, u64)>,
    counters: Counters,
    events: Mutex<Vec<Event>>,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    forwarded: AtomicU64,
    faults_500: AtomicU64,
    faults_503: AtomicU64,
    throttles: AtomicU64,
    dropped: AtomicU64,
    timeouts: AtomicU64,
    lost_answers: AtomicU64,
    upstream_errors: AtomicU64,
    refusals: AtomicU64,
    /// Requests received and not yet answered (or dropped), and the most there were at once
    /// since [`FaultProxy::take_peak_in_flight`].
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
}

/// Counts one request in flight while it lives, so every way out of the handler ends it.
struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    fn start(c: &'a Counters) -> InFlight<'a> {
        let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        c.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(c)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
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
            rng: Mutex::new((XorShift::new(cfg.seed), 0)),
            cfg,
            upstream,
            counters: Counters::default(),
            events: Mutex::new(Vec::new()),
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
        let c = &self.shared.counters;
        let l = |a: &AtomicU64| a.load(Ordering::SeqCst);
        Stats {
            requests: l(&c.requests),
            forwarded: l(&c.forwarded),
            faults_500: l(&c.faults_500),
            faults_503: l(&c.faults_503),
            throttles: l(&c.throttles),
            dropped: l(&c.dropped),
            timeouts: l(&c.timeouts),
            lost_answers: l(&c.lost_answers),
            upstream_errors: l(&c.upstream_errors),
            refusals: l(&c.refusals),
        }
    }

    /// The most requests that were in flight at once (received, not yet answered) since the
    /// last call, and start counting again from those in flight now. With latency added, this
    /// shows how many requests a client sends together instead of one after the other.
    pub fn take_peak_in_flight(&self) -> u64 {
        let c = &self.shared.counters;
        let now = c.in_flight.load(Ordering::SeqCst);
        c.peak_in_flight.swap(now, Ordering::SeqCst)
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
        self.shared.events.lock().unwrap().clone()
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

async fn accept_loop(
    listener: std::net::TcpListener,
    sh: Arc<Shared>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(5))
        .build(http);
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

/// One parsed HTTP/1.1 request.
struct Request {
    method: String,
    path: String,
    /// HTTP/1.0 (close unless keep-alive) rather than 1.1.
    http10: bool,
    headers: Vec<(String, Vec<u8>)>,
    /// The body came chunked (decoded into `body`).
    chunked: bool,
    body: Bytes,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    fn keep_alive(&self) -> bool {
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

    /// The signing name of the SigV4 credential scope: `Credential=AKID/date/region/SERVICE/aws4_request`.
    fn service(&self) -> String {
        let auth = self.header("authorization").unwrap_or_default();
        auth.split("Credential=")
            .nth(1)
            .and_then(|c| c.split([',', ' ']).next())
            .and_then(|scope| scope.split('/').nth(3))
            .unwrap_or("unknown")
            .to_owned()
    }

    fn protocol(&self, service: &str) -> Protocol {
        let ct = self
            .header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if service == "ec2" {
            Protocol::Ec2
        } else if ct.starts_with("application/x-www-form-urlencoded") {
            Protocol::Query
        } else {
            Protocol::Json
        }
    }

    /// The request as the lifecycle layer reads it.
    fn call(&self) -> crate::lifecycle::Call {
        let form = self
            .header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded");
        crate::lifecycle::Call::new(
            self.service(),
            self.operation(),
            &self.path,
            &self.body,
            form,
        )
    }

    fn operation(&self) -> String {
        if let Some(target) = self.header("x-amz-target") {
            return target.rsplit('.').next().unwrap_or(target).to_owned();
        }
        let ct = self
            .header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if ct.starts_with("application/x-www-form-urlencoded") {
            if let Some(action) = std::str::from_utf8(&self.body)
                .ok()
                .and_then(|b| b.split('&').find_map(|kv| kv.strip_prefix("Action=")))
            {
                return action.to_owned();
            }
        }
        // REST: the method and the path, ids (`fs-0123abcd`, `fsmt-...`) replaced by `{id}`.
        let path: Vec<&str> = self
            .path
            .split('?')
            .next()
            .unwrap_or_default()
            .split('/')
            .map(|seg| {
                let id = is_id(seg);
                if id {
                    "{id}"
                } else {
                    seg
                }
            })
            .collect();
        format!("{} {}", self.method, path.join("/"))
    }
}

/// Whether a path segment is a resource id (`fs-0123abcd`, `fsmt-caaeddcf`) rather than a
/// word of the API (`file-systems`, `mount-targets`): a prefix, a dash, then a digit somewhere
/// or at least 8 hex digits (an id of letters only happens: `caaeddcf` is hex).
fn is_id(seg: &str) -> bool {
    let Some((prefix, rest)) = seg.split_once('-') else {
        return false;
    };
    !prefix.is_empty()
        && !seg.starts_with(|c: char| c.is_ascii_digit())
        && (seg.chars().any(|c| c.is_ascii_digit())
            || (rest.len() >= 8 && rest.chars().all(|c| c.is_ascii_hexdigit())))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    /// EC2's query protocol: `<Response><Errors>...`.
    Ec2,
    /// The AWS query protocol (IAM, RDS, ELBv2...): `<ErrorResponse>...`.
    Query,
    /// awsJson 1.0/1.1 and restJson1: `x-amzn-ErrorType` and `{"__type": ...}`.
    Json,
}

enum Decision {
    Forward,
    Fault(Fault),
}

impl Shared {
    fn decide(&self, operation: &str) -> Decision {
        if self.cfg.failure_rate <= 0.0
            || !(self.cfg.operations.is_empty()
                || self.cfg.operations.iter().any(|o| o == operation))
        {
            return Decision::Forward;
        }
        let mut guard = self.rng.lock().unwrap();
        let (rng, decided) = &mut *guard;
        if self.cfg.max_faults.is_some_and(|max| *decided >= max) {
            return Decision::Forward;
        }
        if rng.unit() >= self.cfg.failure_rate {
            return Decision::Forward;
        }
        *decided += 1;
        let total: u64 = self.cfg.mix.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut pick = rng.next() % total;
        for (fault, w) in &self.cfg.mix {
            let w = u64::from(*w);
            if pick < w {
                return Decision::Fault(*fault);
            }
            pick -= w;
        }
        unreachable!("the pick is below the total weight")
    }

    fn record(&self, req: &Request, outcome: Outcome) {
        let c = &self.counters;
        let counter = match &outcome {
            Outcome::Forwarded(_) => &c.forwarded,
            Outcome::UpstreamError => {
                c.forwarded.fetch_add(1, Ordering::SeqCst);
                &c.upstream_errors
            }
            Outcome::Fault(Fault::Http500) => &c.faults_500,
            Outcome::Fault(Fault::Http503) => &c.faults_503,
            Outcome::Fault(Fault::Throttle) => &c.throttles,
            Outcome::Fault(Fault::Drop) => &c.dropped,
            Outcome::Fault(Fault::Timeout) => &c.timeouts,
            Outcome::Fault(Fault::LostAnswer) => {
                c.forwarded.fetch_add(1, Ordering::SeqCst);
                &c.lost_answers
            }
            Outcome::Fault(Fault::AccessDenied | Fault::ExpiredToken) => &c.refusals,
            Outcome::Refused(_) => &c.refusals,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        let mut events = self.events.lock().unwrap();
        if events.len() < MAX_EVENTS {
            events.push(Event {
                service: req.service(),
                operation: req.operation(),
                outcome,
                body: self
                    .cfg
                    .keep_bodies
                    .then(|| String::from_utf8_lossy(&req.body).into_owned()),
            });
        }
    }
}

async fn serve_connection(
    mut sock: TcpStream,
    sh: Arc<Shared>,
    client: Client<HttpConnector, Full<Bytes>>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        let req = match read_request(&mut sock, &mut buf).await {
            Ok(Some(req)) => req,
            // The client closed the connection, or sent something that is not HTTP.
            Ok(None) | Err(_) => return,
        };
        sh.counters.requests.fetch_add(1, Ordering::SeqCst);
        let _in_flight = InFlight::start(&sh.counters);
        if !sh.cfg.latency.is_zero() {
            tokio::time::sleep(sh.cfg.latency).await;
        }
        let keep_alive = req.keep_alive();
        let answer = match sh.decide(&req.operation()) {
            Decision::Fault(fault) => {
                sh.record(&req, Outcome::Fault(fault));
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
                    | Fault::ExpiredToken => fault_answer(&req, fault, keep_alive),
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
                            sh.record(&req, Outcome::Forwarded(r.status));
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
                            sh.record(&req, Outcome::Refused(r.code.clone()));
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
                        sh.record(&req, Outcome::Forwarded(status));
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
                        sh.record(&req, Outcome::UpstreamError);
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

/// The next request on the connection; `None` when the client closed it between requests.
async fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<Request>> {
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
fn hop_by_hop(name: &str) -> bool {
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

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn forward(
    upstream: &str,
    client: &Client<HttpConnector, Full<Bytes>>,
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

/// An HTTP/1.1 answer. `relayed`: the headers come from the upstream (keep its content-length
/// for HEAD requests, whose body is not sent).
fn answer_bytes(
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

/// The answer for an injected 500, 503, throttling, access-denied or expired-token fault, in
/// the service's error format.
fn fault_answer(req: &Request, fault: Fault, keep_alive: bool) -> Vec<u8> {
    let service = req.service();
    let protocol = req.protocol(&service);
    // (status, code, message, query fault type)
    let (status, code, message, sender) = match (fault, protocol) {
        (Fault::Throttle, Protocol::Ec2) => (503, "RequestLimitExceeded", "Request limit exceeded.", false),
        (Fault::Throttle, Protocol::Query) => (400, "Throttling", "Rate exceeded", true),
        (Fault::Throttle, Protocol::Json) => (400, "ThrottlingException", "Rate exceeded", true),
        (Fault::Http500, Protocol::Ec2) => (500, "InternalError", "An internal error has occurred. (injected by the fault proxy)", false),
        (Fault::Http500, _) => (500, "InternalFailure", "The request processing has failed because of an unknown error. (injected by the fault proxy)", false),
        (Fault::Http503, Protocol::Ec2) => (503, "Unavailable", "The server is overloaded and can't handle the request. (injected by the fault proxy)", false),
        (Fault::Http503, _) => (503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server. (injected by the fault proxy)", false),
        (Fault::AccessDenied, Protocol::Ec2) => (403, "UnauthorizedOperation", "You are not authorized to perform this operation. (injected by the fault proxy)", true),
        (Fault::AccessDenied, Protocol::Query) => (403, "AccessDenied", "User is not authorized to perform this action (injected by the fault proxy)", true),
        (Fault::AccessDenied, Protocol::Json) => (400, "AccessDeniedException", "User is not authorized to perform this action (injected by the fault proxy)", true),
        (Fault::ExpiredToken, Protocol::Json) => (400, "ExpiredTokenException", "The security token included in the request is expired", true),
        (Fault::ExpiredToken, _) => (403, "ExpiredToken", "The security token included in the request is expired", true),
        (Fault::Drop | Fault::Timeout | Fault::LostAnswer, _) => unreachable!("{fault} has no answer"),
    };
    error_answer(req, status, code, message, sender, keep_alive)
}

/// An AWS error answer in the service's protocol: `sender` is the query protocol's fault type
/// (the caller's fault rather than the service's).
fn error_answer(
    req: &Request,
    status: u16,
    code: &str,
    message: &str,
    sender: bool,
    keep_alive: bool,
) -> Vec<u8> {
    let service = req.service();
    let protocol = req.protocol(&service);
    let request_id = "fa017000-0000-4000-8000-000000000000";
    let (content_type, body) = match protocol {
        Protocol::Ec2 => (
            "text/xml;charset=UTF-8".to_owned(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
            ),
        ),
        Protocol::Query => (
            "text/xml".to_owned(),
            format!(
                "<ErrorResponse><Error><Type>{}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                if sender { "Sender" } else { "Receiver" }
            ),
        ),
        Protocol::Json => {
            let ct = req.header("content-type").unwrap_or_default();
            let ct = if ct.starts_with("application/x-amz-json") {
                ct.to_owned()
            } else {
                "application/json".to_owned()
            };
            (ct, format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"))
        }
    };
    let mut headers: Vec<(String, Vec<u8>)> = vec![
        ("content-type".into(), content_type.into_bytes()),
        ("x-amzn-requestid".into(), request_id.as_bytes().to_vec()),
    ];
    if protocol == Protocol::Json {
        headers.push(("x-amzn-errortype".into(), code.as_bytes().to_vec()));
    }
    answer_bytes(req, status, &headers, body.as_bytes(), keep_alive, false)
}

/// xorshift64*: small, fast, and good enough to pick faults.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        // splitmix64 of the seed, so that 0 and small seeds give a well-mixed, non-zero state.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        XorShift(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_deterministic_and_near_the_rate() {
        let draw = |seed| {
            let sh = Shared {
                cfg: Faults::rate(0.2).with_seed(seed),
                lifecycle: None,
                upstream: String::new(),
                rng: Mutex::new((XorShift::new(seed), 0)),
                counters: Counters::default(),
                events: Mutex::new(Vec::new()),
            };
            (0..10_000)
                .map(|_| match sh.decide("DescribeVpcs") {
                    Decision::Forward => None,
                    Decision::Fault(f) => Some(f),
                })
                .collect::<Vec<_>>()
        };
        let a = draw(1);
        assert_eq!(a, draw(1));
        assert_ne!(a, draw(2));
        let faults = a.iter().flatten().count();
        assert!((1800..2200).contains(&faults), "{faults}");
        let timeouts = a.iter().flatten().filter(|f| **f == Fault::Timeout).count();
        assert!((100..300).contains(&timeouts), "{timeouts}");
        for kind in [Fault::Http500, Fault::Http503, Fault::Throttle, Fault::Drop] {
            let n = a.iter().flatten().filter(|f| **f == kind).count();
            assert!((350..550).contains(&n), "{kind}: {n}");
        }
    }

    #[test]
    fn faults_only_for_the_named_operations_and_at_most_so_many() {
        let sh = Shared {
            cfg: Faults::rate(1.0)
                .only(Fault::LostAnswer)
                .for_operations(&["CreateSecret"])
                .at_most(2),
            lifecycle: None,
            upstream: String::new(),
            rng: Mutex::new((XorShift::new(1), 0)),
            counters: Counters::default(),
            events: Mutex::new(Vec::new()),
        };
        let decisions: Vec<bool> = [
            "ListSecrets",
            "CreateSecret",
            "DescribeSecret",
            "CreateSecret",
            "CreateSecret",
        ]
        .iter()
        .map(|op| matches!(sh.decide(op), Decision::Fault(Fault::LostAnswer)))
        .collect();
        assert_eq!(decisions, [false, true, false, true, false]);
    }

    #[test]
    fn ids_in_rest_paths_are_told_from_words() {
        for id in [
            "fs-0123abcd",
            "fsmt-caaeddcf",
            "fsmt-1b13bfd7",
            "fs-95e770c9",
        ] {
            assert!(is_id(id), "{id}");
        }
        for word in [
            "file-systems",
            "mount-targets",
            "security-groups",
            "2015-02-01",
            "x",
        ] {
            assert!(!is_id(word), "{word}");
        }
    }

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
