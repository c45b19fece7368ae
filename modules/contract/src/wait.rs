//! Waiting for AWS to finish something: poll soon, then back off, never sleep a fixed long time.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::error::ResourceError;

/// How long an answer from an AWS that has not caught up yet is retried: a describe that says
/// "not found" right after a create, a role ECS cannot assume yet. AWS documents seconds; two
/// minutes covers its bad days without hiding a real error for long.
pub const CONSISTENCY: Duration = Duration::from_secs(120);

/// Test seconds per real second for every wait and poll (`STACKCTL_TIME_SCALE`, default 1).
///
/// Only for tests that replay real AWS's timeline scaled down (the test kit's lifecycle layer
/// plays a 300 s database create in 3 s at 0.01): stackctl's polls and time limits shrink by
/// the same factor, so the run is real AWS's in miniature. Values outside (0, 1] are ignored.
/// Read only in a build with the `test-hooks` feature (`scripts/test.sh`): a user's binary
/// (`cargo install`, the release workflow) always waits on real AWS's clock, whatever its
/// environment holds.
pub fn time_scale() -> f64 {
    static SCALE: OnceLock<f64> = OnceLock::new();
    *SCALE.get_or_init(|| {
        if !cfg!(feature = "test-hooks") {
            return 1.0;
        }
        std::env::var("STACKCTL_TIME_SCALE")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| *s > 0.0 && *s <= 1.0)
            .unwrap_or(1.0)
    })
}

/// A real-AWS duration on the run's clock ([`time_scale`]).
pub fn scaled(d: Duration) -> Duration {
    d.mul_f64(time_scale())
}

/// How to poll: the first interval, the factor it grows by, its cap, and the overall limit.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub first: Duration,
    pub factor: f64,
    pub max: Duration,
    pub timeout: Duration,
    /// The early part of a wait, from its start: checks come on the interval growing from
    /// `first` by `factor`, without the cap, the last one at the end of this period; after it,
    /// one every `max`. Three fifths of what AWS typically takes, so that minutes of waiting cost a
    /// handful of requests while a fast AWS is still seen early. Zero: the interval grows from
    /// `first` up to `max` from the start.
    pub quiet: Duration,
}

impl Backoff {
    /// For things that take seconds to minutes (a load balancer, an RDS instance): the first
    /// check after 200 ms catches the fast cases, the cap of 10 s keeps the API calls few.
    pub const fn standard(timeout: Duration) -> Self {
        Backoff {
            first: Duration::from_millis(200),
            factor: 1.6,
            max: Duration::from_secs(10),
            timeout,
            quiet: Duration::ZERO,
        }
    }

    /// For things AWS takes minutes over, typically `typical`: check at once (an instance
    /// found already available, an emulator), then look early on a doubling interval (1 s,
    /// 2 s, 4 s... after the first check) until three fifths of the typical time, then every
    /// 10 s. A fast AWS (a modify that needs no reboot, a small database, a quiet region) is
    /// so seen within twice the time it took; a typical one, whose fastest runs in public logs
    /// stay above three fifths of the typical time (`modules/testkit/profiles/realistic.toml`'s
    /// ranges), costs less than a poll per 10 s of waiting: a 5-minute database 20 polls, 37
    /// on [`standard`](Backoff::standard)'s schedule. The wait ends at most 10 s after AWS is
    /// done.
    pub const fn expecting(typical: Duration, timeout: Duration) -> Self {
        Backoff {
            first: Duration::from_secs(1),
            factor: 2.0,
            max: Duration::from_secs(10),
            timeout,
            quiet: Duration::from_millis(typical.as_millis() as u64 * 3 / 5),
        }
    }

    /// How long to sleep after a check made `elapsed` into the wait, `interval` being the
    /// growing interval (advanced here). Within the quiet period: look early, on the growing
    /// interval, never past its end; after it, every `max`. Without one: the interval grows
    /// up to `max`.
    fn sleep_after(&self, elapsed: Duration, interval: &mut Duration) -> Duration {
        let quiet_left = self.quiet.saturating_sub(elapsed);
        if !quiet_left.is_zero() {
            let sleep = (*interval).min(quiet_left);
            *interval = interval.mul_f64(self.factor);
            sleep
        } else if !self.quiet.is_zero() {
            self.max
        } else {
            let sleep = *interval;
            *interval = interval.mul_f64(self.factor).min(self.max);
            sleep
        }
    }

    /// The same schedule on the run's clock ([`time_scale`]).
    fn scaled(self) -> Self {
        Backoff {
            first: scaled(self.first),
            max: scaled(self.max),
            timeout: scaled(self.timeout),
            quiet: scaled(self.quiet),
            ..self
        }
    }
}

/// Whether a poll is done.
pub enum Poll<T> {
    Ready(T),
    /// Not yet, with the state AWS reports, for the timeout message.
    Pending(String),
}

/// Where the waits of one operation leave the state AWS last reported (`deployment ecs-svc/1
/// IN_PROGRESS: 1/2 running...`), for the engine's "Still creating..." lines.
pub type Note = Arc<Mutex<Option<String>>>;

tokio::task_local! {
    static NOTE: Note;
}

/// Run `op` with `note` receiving the latest pending state of every wait inside it.
pub async fn noted<F: Future>(note: Note, op: F) -> F::Output {
    NOTE.scope(note, op).await
}

fn leave_note(state: &str) {
    let _ = NOTE.try_with(|n| {
        if let Ok(mut n) = n.lock() {
            *n = Some(state.to_owned());
        }
    });
}

/// Call `check` until it returns `Ready`, sleeping per `backoff` in between (the first check is
/// immediate: AWS often answers ready at once). Errors from `check` end the wait, but for a
/// [retryable](ResourceError::retryable) one (a resource not visible yet, throttling), which is
/// a pending state for up to [`CONSISTENCY`] in a row.
pub async fn until<T, F, Fut>(
    what: &str,
    backoff: Backoff,
    mut check: F,
) -> Result<T, ResourceError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, ResourceError>>,
{
    let backoff = backoff.scaled();
    let start = Instant::now();
    let mut interval = backoff.first;
    let mut unsettled_since: Option<Instant> = None;
    loop {
        let last = match check().await {
            Ok(Poll::Ready(v)) => return Ok(v),
            Ok(Poll::Pending(state)) => {
                unsettled_since = None;
                leave_note(&state);
                state
            }
            Err(e) if e.retryable => {
                let since = *unsettled_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= scaled(CONSISTENCY) {
                    return Err(e);
                }
                tracing::debug!(what, error = %e, "AWS has not caught up yet; checking again");
                e.to_string()
            }
            Err(e) => return Err(e),
        };
        let elapsed = start.elapsed();
        if elapsed >= backoff.timeout {
            return Err(ResourceError::new(
                format!("waiting for {what}"),
                format!("still {last} after {}s", elapsed.as_secs()),
            )
            .with_hint("AWS is slower than usual or the resource is stuck: check it in the console, then run apply again"));
        }
        let sleep = backoff.sleep_after(elapsed, &mut interval);
        tracing::debug!(what, state = %last, ?sleep, "waiting");
        // Ctrl-C ends a wait that is only a wait (crate::interrupt): AWS goes on without us.
        if crate::interrupt::stop_here()
            || !crate::interrupt::sleep(sleep.min(backoff.timeout - elapsed)).await
        {
            return Err(crate::interrupt::error(what, &last));
        }
    }
}

/// Make a call again while AWS has not caught up with an earlier one: while its error is
/// [retryable](ResourceError::retryable) (a resource created a moment ago not visible yet, an
/// IAM role ECS cannot assume yet, throttling that outlasted the SDK's own retries), for up to
/// [`CONSISTENCY`]. Any other error, or the same one after that, is returned.
pub async fn eventually<T, F, Fut>(what: &str, mut call: F) -> Result<T, ResourceError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ResourceError>>,
{
    let start = Instant::now();
    // Half a second, then doubling: AWS catches up within a second or two most of the time
    // (EC2 documents seconds, IAM up to about ten), and quicker retries only cost requests.
    let mut interval = scaled(Duration::from_millis(500));
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if e.retryable && start.elapsed() < scaled(CONSISTENCY) => {
                tracing::debug!(what, error = %e, ?interval, "AWS has not caught up yet; retrying");
                tokio::time::sleep(interval).await;
                interval = interval.mul_f64(2.0).min(scaled(Duration::from_secs(5)));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Delete something AWS may refuse to delete while it is still held, retrying until it lets go.
///
/// AWS refuses to delete a resource while something that is itself being deleted still holds it
/// (a security group whose network interfaces are draining, a target group whose listener is
/// going, a subnet group whose database is being deleted): an error code in `busy` ("in use")
/// therefore means wait and call again, and one in `gone` ("not found") means the resource is
/// already deleted, which is what was asked. `call` makes the delete request once; any other
/// error ends the wait. Polls per [`Backoff::standard`] with `timeout`.
pub async fn delete_when_released<F, Fut>(
    what: &str,
    timeout: Duration,
    busy: &[&str],
    gone: &[&str],
    call: F,
) -> Result<(), ResourceError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), ResourceError>>,
{
    delete_when_released_with(what, Backoff::standard(timeout), busy, gone, call).await
}

/// [`delete_when_released`] with an explicit [`Backoff`].
pub async fn delete_when_released_with<F, Fut>(
    what: &str,
    backoff: Backoff,
    busy: &[&str],
    gone: &[&str],
    mut call: F,
) -> Result<(), ResourceError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), ResourceError>>,
{
    until(what, backoff, || {
        let fut = call();
        async move {
            match fut.await {
                Ok(()) => Ok(Poll::Ready(())),
                Err(e) if e.is(gone) => Ok(Poll::Ready(())),
                Err(e) if e.is(busy) => Ok(Poll::Pending(format!(
                    "{}: {}",
                    e.code.as_deref().unwrap_or_default(),
                    e.message
                ))),
                Err(e) => Err(e),
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_noted_wait_leaves_its_latest_state_for_the_progress_lines() {
        let note = Note::default();
        let mut n = 0;
        let v = noted(
            note.clone(),
            until("x", Backoff::standard(Duration::from_secs(5)), || {
                n += 1;
                let k = n;
                async move {
                    Ok(if k < 3 {
                        Poll::Pending(format!("pending {k}"))
                    } else {
                        Poll::Ready(k)
                    })
                }
            }),
        )
        .await
        .unwrap();
        assert_eq!(v, 3);
        assert_eq!(note.lock().unwrap().as_deref(), Some("pending 2"));
        // Outside a noted operation a wait leaves nothing anywhere, and does not fail.
        until("y", Backoff::standard(Duration::from_secs(5)), || async {
            Ok(Poll::Ready(()))
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn first_check_is_immediate() {
        let start = Instant::now();
        let v = until("x", Backoff::standard(Duration::from_secs(5)), || async {
            Ok(Poll::Ready(7))
        })
        .await
        .unwrap();
        assert_eq!(v, 7);
        assert!(start.elapsed() < Duration::from_millis(50));
    }

    /// The checks `b`'s schedule makes for something AWS finishes `done` into the wait, in
    /// virtual time: when each check comes, the last one being the one that sees it done.
    fn checks(b: Backoff, done: Duration) -> Vec<Duration> {
        let (mut at, mut interval, mut checks) = (Duration::ZERO, b.first, vec![Duration::ZERO]);
        while at < done {
            at += b.sleep_after(at, &mut interval);
            checks.push(at);
        }
        checks
    }

    #[tokio::test]
    async fn a_known_duration_is_waited_through_with_few_polls() {
        // The real schedule drives `until` (shrunk to milliseconds by hand: the shape is what
        // is tested): at once, early at 1, 3, 7 ms, the quiet end at 10 ms, then every 5 ms.
        let b = Backoff {
            first: Duration::from_millis(1),
            factor: 2.0,
            max: Duration::from_millis(5),
            timeout: Duration::from_secs(5),
            quiet: Duration::from_millis(10),
        };
        let start = Instant::now();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        until("thing", b, || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(if start.elapsed() >= Duration::from_millis(20) {
                Poll::Ready(())
            } else {
                Poll::Pending("creating".into())
            })
        })
        .await
        .unwrap();
        let calls = calls.load(std::sync::atomic::Ordering::SeqCst);
        // At 0, 1, 3, 7, 10, 15, 20 (give or take a poll for timer slack).
        assert!((6..=8).contains(&calls), "{calls} polls");

        // A 5-minute database: at most one poll per 10 s of waiting, and seen at most 10 s
        // after it is done.
        let real = Backoff::expecting(Duration::from_secs(300), Duration::from_secs(3600));
        let typical = checks(real, Duration::from_secs(300));
        let ms = |c: &[Duration]| c.iter().map(|d| d.as_millis() as u64).collect::<Vec<_>>();
        assert_eq!(
            ms(&typical[..10]),
            [0, 1000, 3000, 7000, 15000, 31000, 63000, 127000, 180000, 190000]
        );
        assert_eq!(typical.last(), Some(&Duration::from_secs(300)));
        assert!(
            typical.len() - 1 <= 30,
            "{} polls for 300 s",
            typical.len() - 1
        );
        let late = checks(real, Duration::from_secs(301));
        assert_eq!(late.last(), Some(&Duration::from_secs(310)));
    }

    #[test]
    fn a_fast_aws_is_seen_early() {
        // A database available after 4 s, a modify without reboot after 2 s, a load balancer
        // after 2.5 s: each seen within twice its time (plus the first second), not after a
        // quiet period of 150 s, 120 s, 75 s as before issue 20.
        for (typical, done) in [(300, 4.0), (240, 2.0), (150, 2.5), (60, 2.0), (10, 1.0)] {
            let b = Backoff::expecting(Duration::from_secs(typical), Duration::from_secs(3600));
            let done = Duration::from_secs_f64(done);
            let seen = *checks(b, done).last().unwrap();
            assert!(
                seen <= done * 2 + Duration::from_secs(1),
                "typical {typical} s, done after {done:?}: seen after {seen:?}"
            );
        }
        // Anything done before the quiet period ends is seen within twice its time.
        let b = Backoff::expecting(Duration::from_secs(300), Duration::from_secs(3600));
        for done in [5, 20, 40, 70, 100, 140] {
            let done = Duration::from_secs(done);
            let seen = *checks(b, done).last().unwrap();
            assert!(seen <= done * 2, "done after {done:?}: seen after {seen:?}");
        }
    }

    #[tokio::test]
    async fn a_retryable_error_is_a_pending_state_then_the_wait_goes_on() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let v = until("thing", fast(), || async {
            match calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                0 => Err(aws("DBInstanceNotFound", "not visible yet").retryable()),
                _ => Ok(Poll::Ready(7)),
            }
        })
        .await
        .unwrap();
        assert_eq!(v, 7);
        // A non-retryable one still ends the wait.
        let err = until::<(), _, _>("thing", fast(), || async { Err(aws("AccessDenied", "no")) })
            .await
            .unwrap_err();
        assert_eq!(err.code.as_deref(), Some("AccessDenied"));
    }

    #[tokio::test]
    async fn eventually_retries_what_aws_has_not_caught_up_with_only() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let v = eventually("role", || async {
            if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
                Err(aws("ClientException", "Role is not valid").retryable())
            } else {
                Ok(3)
            }
        })
        .await
        .unwrap();
        assert_eq!((v, calls.load(std::sync::atomic::Ordering::SeqCst)), (3, 3));
        let once = std::sync::atomic::AtomicUsize::new(0);
        let err = eventually::<(), _, _>("role", || async {
            once.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(aws("ValidationError", "bad"))
        })
        .await
        .unwrap_err();
        assert_eq!(err.code.as_deref(), Some("ValidationError"));
        assert_eq!(once.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn times_out_with_last_state() {
        let b = Backoff {
            first: Duration::from_millis(5),
            factor: 2.0,
            max: Duration::from_millis(20),
            timeout: Duration::from_millis(60),
            quiet: Duration::ZERO,
        };
        let err = until::<(), _, _>("thing", b, || async {
            Ok(Poll::Pending("creating".into()))
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("still creating"), "{err}");
    }

    fn fast() -> Backoff {
        Backoff {
            first: Duration::from_millis(5),
            factor: 2.0,
            max: Duration::from_millis(20),
            timeout: Duration::from_millis(60),
            quiet: Duration::ZERO,
        }
    }

    fn aws(code: &str, message: &str) -> ResourceError {
        ResourceError::new("DeleteThing", message).with_code(code)
    }

    #[tokio::test]
    async fn delete_retries_while_busy_then_succeeds() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        delete_when_released_with("thing", fast(), &["InUse"], &["NotFound"], || async {
            if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
                Err(aws("InUse", "held by another"))
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn delete_of_gone_resource_is_done() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        delete_when_released_with("thing", fast(), &["InUse"], &["NotFound"], || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(aws("NotFound", "no such thing"))
        })
        .await
        .unwrap();
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn delete_surfaces_other_errors() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let err = delete_when_released_with("thing", fast(), &["InUse"], &["NotFound"], || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(aws("AccessDenied", "not allowed"))
        })
        .await
        .unwrap_err();
        assert_eq!(err.code.as_deref(), Some("AccessDenied"));
        assert_eq!(err.operation, "DeleteThing");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn delete_timeout_names_the_busy_state() {
        let err = delete_when_released_with("thing", fast(), &["InUse"], &["NotFound"], || async {
            Err(aws("InUse", "held by a listener"))
        })
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("waiting for thing"), "{text}");
        assert!(text.contains("still InUse: held by a listener"), "{text}");
    }
}
