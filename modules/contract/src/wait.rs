//! Waiting for AWS to finish something: poll soon, then back off, never sleep a fixed long time.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::ResourceError;

/// How to poll: the first interval, the factor it grows by, its cap, and the overall limit.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub first: Duration,
    pub factor: f64,
    pub max: Duration,
    pub timeout: Duration,
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
        }
    }
}

/// Whether a poll is done.
pub enum Poll<T> {
    Ready(T),
    /// Not yet, with the state AWS reports, for the timeout message.
    Pending(String),
}

/// Call `check` until it returns `Ready`, sleeping per `backoff` in between (the first check is
/// immediate: AWS often answers ready at once). Errors from `check` end the wait.
pub async fn until<T, F, Fut>(
    what: &str,
    backoff: Backoff,
    mut check: F,
) -> Result<T, ResourceError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, ResourceError>>,
{
    let start = Instant::now();
    let mut interval = backoff.first;
    loop {
        let last = match check().await? {
            Poll::Ready(v) => return Ok(v),
            Poll::Pending(state) => state,
        };
        let elapsed = start.elapsed();
        if elapsed >= backoff.timeout {
            return Err(ResourceError::new(
                format!("waiting for {what}"),
                format!("still {last} after {}s", elapsed.as_secs()),
            )
            .with_hint("AWS is slower than usual or the resource is stuck: check it in the console, then run apply again"));
        }
        tracing::debug!(what, state = %last, ?interval, "waiting");
        tokio::time::sleep(interval.min(backoff.timeout - elapsed)).await;
        interval = interval.mul_f64(backoff.factor).min(backoff.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[tokio::test]
    async fn times_out_with_last_state() {
        let b = Backoff {
            first: Duration::from_millis(5),
            factor: 2.0,
            max: Duration::from_millis(20),
            timeout: Duration::from_millis(60),
        };
        let err = until::<(), _, _>("thing", b, || async {
            Ok(Poll::Pending("creating".into()))
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("still creating"), "{err}");
    }
}
