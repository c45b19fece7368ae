//! What the proxy does to the traffic ([`Faults`]: the rate, the kinds of [`Fault`] and their
//! mix, latency, which operations), and the seeded draws that decide each request's fate.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

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
    /// Not in the default mix: S3's HTTP 409 `ConditionalRequestConflict`, as S3 answers a
    /// conditional write while another one to the same key is in flight. AWS says to retry it.
    Conflict,
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
            Fault::Conflict => "conflict",
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
    /// Only requests for these operations (named as in
    /// [`Event::operation`](crate::proxy::Event::operation)) may fail; the others are
    /// forwarded without a draw. Empty: any request may fail.
    pub operations: Vec<String>,
    /// Inject at most this many faults, then forward everything.
    pub max_faults: Option<u64>,
    /// An AWS with time ([`crate::lifecycle`]): transitional states, refusals and stale reads
    /// replayed over moto per this profile. `None`: moto as it is.
    pub lifecycle: Option<crate::lifecycle::Profile>,
    /// Keep every request's body in its [`Event`](crate::proxy::Event).
    pub keep_bodies: bool,
    /// Faults for given requests whatever the rate: "lose the answer to the 2nd PUT of this
    /// key". Checked before the draw.
    pub scheduled: Vec<Scheduled>,
}

/// A fault for the `first`..=`last` requests (counted from 1) for one operation.
#[derive(Clone, Debug)]
pub struct Scheduled {
    /// As [`Event::operation`](crate::proxy::Event::operation) names it: `PutItem`, or
    /// `PUT /bucket/key` for S3.
    pub operation: String,
    pub first: u64,
    pub last: u64,
    pub fault: Fault,
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
            scheduled: Vec::new(),
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

    /// Keep the body of every request in its [`Event`](crate::proxy::Event).
    pub fn with_bodies(mut self) -> Faults {
        self.keep_bodies = true;
        self
    }

    /// `fault` for the `nth` request (counted from 1) for `operation`, and only that one.
    pub fn on_nth(mut self, operation: &str, nth: u64, fault: Fault) -> Faults {
        self.scheduled.push(Scheduled {
            operation: operation.to_owned(),
            first: nth,
            last: nth,
            fault,
        });
        self
    }

    /// `fault` for every request for `operation` from the `nth` (counted from 1) on.
    pub fn from_nth(mut self, operation: &str, nth: u64, fault: Fault) -> Faults {
        self.scheduled.push(Scheduled {
            operation: operation.to_owned(),
            first: nth,
            last: u64::MAX,
            fault,
        });
        self
    }

    /// Replay real AWS's timeline over moto with this profile ([`crate::lifecycle`]).
    pub fn with_lifecycle(mut self, profile: crate::lifecycle::Profile) -> Faults {
        self.lifecycle = Some(profile);
        self
    }
}

/// What the draws decided for one request.
pub(super) enum Decision {
    Forward,
    Fault(Fault),
}

/// The pseudo-random draws: the generator, and how many faults it decided so far; and how many
/// requests each scheduled operation had.
pub(super) struct Draws(Mutex<(XorShift, u64)>, Mutex<HashMap<String, u64>>);

impl Draws {
    pub(super) fn new(seed: u64) -> Draws {
        Draws(Mutex::new((XorShift::new(seed), 0)), Mutex::default())
    }

    /// Forward this request, or answer it with which fault, per `cfg`.
    pub(super) fn decide(&self, cfg: &Faults, operation: &str) -> Decision {
        if cfg.scheduled.iter().any(|s| s.operation == operation) {
            let mut seen = self.1.lock().unwrap();
            let n = seen.entry(operation.to_owned()).or_default();
            *n += 1;
            let n = *n;
            if let Some(s) = cfg
                .scheduled
                .iter()
                .find(|s| s.operation == operation && (s.first..=s.last).contains(&n))
            {
                return Decision::Fault(s.fault);
            }
        }
        if cfg.failure_rate <= 0.0
            || !(cfg.operations.is_empty() || cfg.operations.iter().any(|o| o == operation))
        {
            return Decision::Forward;
        }
        let mut guard = self.0.lock().unwrap();
        let (rng, decided) = &mut *guard;
        if cfg.max_faults.is_some_and(|max| *decided >= max) {
            return Decision::Forward;
        }
        if rng.unit() >= cfg.failure_rate {
            return Decision::Forward;
        }
        *decided += 1;
        let total: u64 = cfg.mix.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut pick = rng.next() % total;
        for (fault, w) in &cfg.mix {
            let w = u64::from(*w);
            if pick < w {
                return Decision::Fault(*fault);
            }
            pick -= w;
        }
        unreachable!("the pick is below the total weight")
    }
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
            let cfg = Faults::rate(0.2).with_seed(seed);
            let draws = Draws::new(seed);
            (0..10_000)
                .map(|_| match draws.decide(&cfg, "DescribeVpcs") {
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
        let cfg = Faults::rate(1.0)
            .only(Fault::LostAnswer)
            .for_operations(&["CreateSecret"])
            .at_most(2);
        let draws = Draws::new(1);
        let decisions: Vec<bool> = [
            "ListSecrets",
            "CreateSecret",
            "DescribeSecret",
            "CreateSecret",
            "CreateSecret",
        ]
        .iter()
        .map(|op| matches!(draws.decide(&cfg, op), Decision::Fault(Fault::LostAnswer)))
        .collect();
        assert_eq!(decisions, [false, true, false, true, false]);
    }

    #[test]
    fn scheduled_faults_hit_exactly_their_requests() {
        let cfg = Faults::none()
            .on_nth("PUT /b/k", 2, Fault::LostAnswer)
            .from_nth("PutItem", 3, Fault::Conflict);
        let draws = Draws::new(1);
        let decisions: Vec<Option<Fault>> = [
            "PUT /b/k", "PutItem", "PUT /b/k", "PUT /b/k", "PutItem", "PutItem", "PutItem",
        ]
        .iter()
        .map(|op| match draws.decide(&cfg, op) {
            Decision::Forward => None,
            Decision::Fault(f) => Some(f),
        })
        .collect();
        use Fault::*;
        assert_eq!(
            decisions,
            [
                None,
                None,
                Some(LostAnswer),
                None,
                None,
                Some(Conflict),
                Some(Conflict)
            ]
        );
    }
}
