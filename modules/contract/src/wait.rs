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

    fn fast() -> Backoff {
        Backoff {
            first: Duration::from_millis(5),
            factor: 2.0,
            max: Duration::from_millis(20),
            timeout: Duration::from_millis(60),
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
