//! Ctrl-C (SIGINT) and SIGTERM, one path for every command: the state's lock is released
//! however the run ends, and a wait that is only a wait ends at the first interrupt.
//!
//! - A run that has work under way (apply's walk, a redeploy or rollback waiting on its
//!   deployment, a state write) registers a [`handling`] scope: at the first interrupt it stops
//!   cleanly itself (the waits under [`stackctl_contract::interrupt::waits_end`] give way, the
//!   state records what is known, the lock is released when it returns) and exits 1.
//! - Anything else (plan, apply's confirmation prompt, a wait for the lock, a read) has nothing
//!   half done: the first interrupt releases the locks [`hold`] keeps and exits 1 at once.
//! - A second interrupt releases them too, then exits 1 at once, whatever runs.
//!
//! Exit status 1, as Terraform's after an interrupt: a script sees a failure either way, and a
//! CI job cancelled with SIGTERM leaves no lock behind for the next one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use stackctl_contract::interrupt as flag;

use super::Reporter;

/// What a [`handling`] scope says when a second interrupt stops the run under it.
type Say = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct Registry {
    next: u64,
    /// The locks held, released by their `Drop` on the way out.
    held: BTreeMap<u64, Box<dyn Send>>,
    handlers: BTreeMap<u64, Say>,
}

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    // A panic elsewhere while holding it leaves the maps whole: each change is one insert or
    // remove.
    REGISTRY
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// A lock released when this is dropped, or by an interrupt that ends the run first.
#[must_use = "the lock is released when this is dropped"]
pub struct Held(u64);

/// Keep `lock` (a state lock, released by its `Drop`) where an interrupt can release it.
pub fn hold<T: Send + 'static>(lock: T) -> Held {
    let mut r = registry();
    r.next += 1;
    let id = r.next;
    r.held.insert(id, Box::new(lock));
    Held(id)
}

impl Drop for Held {
    fn drop(&mut self) {
        // Out of the registry first, released after: a release makes AWS requests.
        let lock = registry().held.remove(&self.0);
        drop(lock);
    }
}

/// While alive, the first interrupt is left to its owner, which stops cleanly; `second` says
/// what a second one leaves.
#[must_use = "the first interrupt is handled only while this lives"]
pub struct Handling(u64);

pub fn handling(second: impl Fn() + Send + Sync + 'static) -> Handling {
    let mut r = registry();
    r.next += 1;
    let id = r.next;
    r.handlers.insert(id, Arc::new(second));
    Handling(id)
}

impl Drop for Handling {
    fn drop(&mut self) {
        registry().handlers.remove(&self.0);
    }
}

/// Whether the user asked to stop.
pub fn requested() -> bool {
    flag::requested()
}

/// Resolves at the first interrupt (at once if there was one).
pub async fn stopped() {
    flag::stop_requested().await
}

/// Run `op`, a short piece of work that must not be cut (a state write), to its end; an
/// interrupt meanwhile stops the run right after it, releasing the locks.
pub async fn finish_first<F: std::future::Future>(op: F, report: &Reporter) -> F::Output {
    let out = {
        let _handled = handling(|| {});
        op.await
    };
    if requested() {
        stop(report, "the change under way was finished first");
    }
    out
}

/// How long releasing the locks may take on the way out: a remote lock is one or two requests,
/// and an AWS that does not answer must not keep an interrupted run alive.
const RELEASE_LIMIT: Duration = Duration::from_secs(15);

/// Release every lock held, say so, and exit 1.
fn stop(report: &Reporter, done: &str) -> ! {
    let held = std::mem::take(&mut registry().held);
    let lock = match (held.is_empty(), release(held)) {
        (true, _) => "",
        (false, true) => "; the state's lock was released",
        (false, false) => "; the state's lock could not be released in time: the next run names it, and `stackctl force-unlock ID` removes it",
    };
    report.notice(&format!(
        "Interrupted: {done}{lock}. Run the same command again to continue."
    ));
    std::process::exit(1)
}

/// Drop `held` (each lock's `Drop` releases it) on a thread of its own, waiting for it up to
/// [`RELEASE_LIMIT`]; whether it finished.
fn release(held: BTreeMap<u64, Box<dyn Send>>) -> bool {
    let runtime = tokio::runtime::Handle::try_current().ok();
    let multi_thread = runtime
        .as_ref()
        .is_some_and(|r| r.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    let (done, finished) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("release-locks".into())
        .spawn(move || {
            // A remote lock's release blocks on the runtime's requests.
            let _entered = runtime.as_ref().map(|r| r.enter());
            drop(held);
            let _ = done.send(());
        });
    // This thread may be one of the runtime's workers: hand its work to another while it
    // waits, so the release's requests have a worker to run on.
    let wait = || finished.recv_timeout(RELEASE_LIMIT).is_ok();
    spawned.is_ok()
        && if multi_thread {
            tokio::task::block_in_place(wait)
        } else {
            wait()
        }
}

/// Start listening for Ctrl-C and SIGTERM (once per process; later calls do nothing). Needs
/// the multi-threaded runtime: releasing a remote lock blocks on its requests.
pub fn listen(report: Reporter) {
    static LISTENING: OnceLock<()> = OnceLock::new();
    if LISTENING.set(()).is_err() {
        return;
    }
    let mut signals = Signals::listen();
    tokio::spawn(async move {
        let mut count = 0;
        while signals.next().await {
            count += 1;
            flag::request();
            let says: Vec<Say> = registry().handlers.values().cloned().collect();
            if count == 1 && !says.is_empty() {
                // Its owner stops cleanly and says how.
                continue;
            }
            for say in &says {
                say();
            }
            let done = if says.is_empty() {
                "stopped"
            } else {
                "stopped at once"
            };
            stop(&report, done);
        }
    });
}

/// SIGINT and SIGTERM on unix; Ctrl-C elsewhere.
struct Signals {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The next signal; false when none can be listened for any more.
    async fn next(&mut self) -> bool {
        #[cfg(unix)]
        {
            async fn one(s: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
                match s {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            }
            if self.int.is_none() && self.term.is_none() {
                return false;
            }
            tokio::select! {
                got = one(&mut self.int) => got.is_some(),
                got = one(&mut self.term) => got.is_some(),
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await.is_ok()
    }
}
