//! What the proxy did: its counts ([`Stats`]), the log of every request ([`Event`], with its
//! [`Outcome`]), and the requests in flight.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::faults::Fault;
use super::http::Request;

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
    /// [`Fault::AccessDenied`], [`Fault::ExpiredToken`] and [`Fault::Conflict`] answers.
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

/// Keeps the event log from growing without bound in a long test.
const MAX_EVENTS: usize = 200_000;

/// The proxy's counts and log, written by every connection.
pub(super) struct Recorder {
    counters: Counters,
    events: Mutex<Vec<Event>>,
    /// Keep each request's body in its event
    /// ([`Faults::with_bodies`](crate::proxy::Faults::with_bodies)).
    keep_bodies: bool,
}

impl Recorder {
    pub(super) fn new(keep_bodies: bool) -> Recorder {
        Recorder {
            counters: Counters::default(),
            events: Mutex::new(Vec::new()),
            keep_bodies,
        }
    }

    /// A request received: counted, and in flight until the guard is dropped.
    pub(super) fn received(&self) -> InFlight<'_> {
        self.counters.requests.fetch_add(1, Ordering::SeqCst);
        InFlight::start(&self.counters)
    }

    /// What happened to a request: counted, and logged.
    pub(super) fn record(&self, req: &Request, outcome: Outcome) {
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
            Outcome::Fault(Fault::AccessDenied | Fault::ExpiredToken | Fault::Conflict) => {
                &c.refusals
            }
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
                    .keep_bodies
                    .then(|| String::from_utf8_lossy(&req.body).into_owned()),
            });
        }
    }

    /// The counts so far.
    pub(super) fn stats(&self) -> Stats {
        let c = &self.counters;
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

    /// The most requests in flight at once since the last call; counting starts again from
    /// those in flight now.
    pub(super) fn take_peak_in_flight(&self) -> u64 {
        let c = &self.counters;
        let now = c.in_flight.load(Ordering::SeqCst);
        c.peak_in_flight.swap(now, Ordering::SeqCst)
    }

    /// Every request logged so far, in order.
    pub(super) fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
}

/// The counts, shared by the connections.
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
    /// since [`FaultProxy::take_peak_in_flight`](crate::proxy::FaultProxy::take_peak_in_flight).
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
}

/// Counts one request in flight while it lives, so every way out of the handler ends it.
pub(super) struct InFlight<'a>(&'a Counters);

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
