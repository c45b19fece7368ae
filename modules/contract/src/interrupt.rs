//! The user asked to stop (Ctrl-C, SIGTERM): one process-wide flag that the binary's signal
//! handler raises, and that the waits of an operation run under [`waits_end`] give way to.
//!
//! A wait that is only a wait (a deployment's health, a database modification) ends at once with
//! an [`INTERRUPTED`] error: the work goes on in AWS, and the engine records what it knows. A
//! request already sent is never cut: only the waits look at the flag, so what is half sent
//! finishes first.

use std::future::Future;
use std::sync::OnceLock;

use tokio::sync::watch;

use crate::error::ResourceError;

/// The code of the error a wait returns when the user asked to stop.
pub const INTERRUPTED: &str = "Interrupted";

fn flag() -> &'static watch::Sender<bool> {
    static FLAG: OnceLock<watch::Sender<bool>> = OnceLock::new();
    FLAG.get_or_init(|| watch::channel(false).0)
}

/// Ask every wait under [`waits_end`] to stop (the first Ctrl-C or SIGTERM).
pub fn request() {
    flag().send_replace(true);
}

/// Whether the user asked to stop.
pub fn requested() -> bool {
    *flag().borrow()
}

/// Resolves once the user asked to stop (at once if they already did).
pub async fn stop_requested() {
    let mut rx = flag().subscribe();
    // The sender lives in a static: `wait_for` cannot fail.
    let _ = rx.wait_for(|stop| *stop).await;
}

tokio::task_local! {
    static WAITS_END: ();
}

/// Run `op` with its waits ending at the first interrupt. Outside such a scope (a one-off task,
/// which `run` stops itself) a wait goes on.
pub async fn waits_end<F: Future>(op: F) -> F::Output {
    WAITS_END.scope((), op).await
}

/// Whether the waits of the running task end at an interrupt.
fn waits_end_here() -> bool {
    WAITS_END.try_with(|_| ()).is_ok()
}

/// The error of a wait for `what` cut short, `last` being what AWS last said.
pub fn error(what: &str, last: &str) -> ResourceError {
    ResourceError::new(
        format!("waiting for {what}"),
        format!("interrupted; AWS goes on with it (last seen: {last})"),
    )
    .with_code(INTERRUPTED)
    .with_hint("`stackctl status` shows how it goes; run the same command again to resume")
}

/// Whether a wait here must stop now.
pub(crate) fn stop_here() -> bool {
    waits_end_here() && requested()
}

/// `sleep`, or an interrupt first when waits end here: `false` then.
pub(crate) async fn sleep(d: std::time::Duration) -> bool {
    if !waits_end_here() {
        tokio::time::sleep(d).await;
        return true;
    }
    tokio::select! {
        () = tokio::time::sleep(d) => true,
        () = stop_requested() => false,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::wait::{self, Backoff, Poll};

    /// Under `waits_end`, a wait of an hour ends as soon as the flag goes up, with the
    /// interrupted code; the same wait outside the scope is untouched by it. (One test: the
    /// flag is process-wide.)
    #[tokio::test]
    async fn a_wait_ends_at_the_interrupt_only_where_waits_end() {
        let hour = || {
            wait::until(
                "a deployment",
                Backoff::standard(Duration::from_secs(3600)),
                || async { Ok::<Poll<()>, ResourceError>(Poll::Pending("IN_PROGRESS".into())) },
            )
        };
        let started = std::time::Instant::now();
        let (ended, ()) = tokio::join!(waits_end(hour()), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            request();
        });
        let err = ended.unwrap_err();
        assert!(err.is(&[INTERRUPTED]), "{err}");
        assert!(err.message.contains("IN_PROGRESS"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
        let outside = tokio::time::timeout(Duration::from_millis(500), hour()).await;
        assert!(
            outside.is_err(),
            "a wait outside waits_end ended: {outside:?}"
        );
    }
}
