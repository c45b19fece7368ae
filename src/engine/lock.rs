//! The state lock: one run at a time per state file, and a clear word on who holds it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What the lock file says about its holder.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub pid: u32,
    pub host: String,
    pub command: String,
    /// Seconds since the Unix epoch.
    pub since: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("state {state} is locked by {} (pid {} on {}, since {}s ago, lock id {})\n  hint: {}",
        .info.command, .info.pid, .info.host, now().saturating_sub(.info.since), .info.id,
        held_hint(.state, .info, *.stale))]
    Held {
        state: PathBuf,
        info: LockInfo,
        stale: bool,
    },
    #[error("cannot create or remove lock file {path}: {error}\n  hint: check that its directory exists and is writable")]
    Io {
        path: PathBuf,
        /// In the message; not named `source`, which `{:#}` would print a second time.
        error: std::io::Error,
    },
    #[error("state {state} is not locked: there is no {}\n  hint: nothing to unlock; check -state or -var-file if you expected a lock", lock_path(.state).display())]
    NotLocked { state: PathBuf },
    #[error("lock file {path} cannot be read ({message})\n  hint: if no stackctl run is working on this state, delete {path} by hand")]
    Unreadable { path: PathBuf, message: String },
    #[error("lock id {given:?} does not match the lock on {state}: it is held by {} (pid {} on {}, since {}s ago, lock id {}); nothing was removed\n  hint: force-unlock takes the lock id of the holder, as the lock error printed it",
        .info.command, .info.pid, .info.host, now().saturating_sub(.info.since), .info.id)]
    Mismatch {
        state: PathBuf,
        given: String,
        info: Box<LockInfo>,
    },
}

/// What to do about a held lock: wait for it, or, for a lock file no live process holds,
/// clear it.
fn held_hint(state: &Path, info: &LockInfo, stale: bool) -> String {
    let unlock = format!(
        "stackctl force-unlock {} -state {}",
        info.id,
        state.display()
    );
    if stale {
        format!("no running process holds it, so the lock is stale: remove it with `{unlock}`")
    } else {
        "wait for that run to finish, or pass -lock-timeout 5m to wait for it".to_owned()
    }
}

/// A held lock: an exclusive OS lock on `<state>.lock`, whose content names the holder. The
/// kernel releases the OS lock when the process ends however it ends (even SIGKILL), so a
/// killed run never leaves a lock that blocks the next one; the content it leaves behind is
/// reported as stale and taken over.
pub struct Lock {
    path: PathBuf,
    file: std::fs::File,
}

pub fn lock_path(state: &Path) -> PathBuf {
    let mut p = state.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// This machine's name, as lock files record it.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".to_owned())
}

/// What the lock file of `state` says about its holder, if anything.
pub fn holder(state: &Path) -> Option<LockInfo> {
    std::fs::read_to_string(lock_path(state))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
}

/// Whether a live process holds the OS lock on `path` right now.
fn held(path: &Path) -> bool {
    match std::fs::File::open(path) {
        Ok(f) => matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

/// Whether `file` is still the file at `path`: a run that released the lock unlinks the file,
/// and whoever opened it just before must then start over on the new one.
fn same_file(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

impl Lock {
    /// Take the lock, waiting up to `timeout` for another run to release it; a stale lock taken
    /// over is reported to `report`.
    pub fn acquire(
        state: &Path,
        command: &str,
        timeout: Duration,
        report: &dyn super::Report,
    ) -> Result<Lock, LockError> {
        let path = lock_path(state);
        let io = |error| LockError::Io {
            path: path.clone(),
            error,
        };
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let info = LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            pid: std::process::id(),
            host: host(),
            command: command.to_owned(),
            since: now(),
        };
        let start = Instant::now();
        loop {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) if same_file(&file, &path) => {
                    // Content with nobody holding the OS lock: a run that was killed.
                    if let Some(old) = holder(state) {
                        report.warn(&format!(
                            "the lock on {} left by {} (pid {} on {}, {}s ago, lock id {}) is stale: that process is gone. Taking it over.",
                            state.display(), old.command, old.pid, old.host, now().saturating_sub(old.since), old.id
                        ));
                    }
                    let text = serde_json::to_string_pretty(&info).unwrap_or_default();
                    file.set_len(0).map_err(io)?;
                    file.write_all(text.as_bytes()).map_err(io)?;
                    file.sync_all().map_err(io)?;
                    return Ok(Lock { path, file });
                }
                Ok(()) => continue,
                Err(std::fs::TryLockError::WouldBlock) => {
                    if start.elapsed() >= timeout {
                        // A lock file still being written reads as empty: report what we can.
                        let info = holder(state).unwrap_or(LockInfo {
                            id: "?".into(),
                            pid: 0,
                            host: "?".into(),
                            command: "?".into(),
                            since: now(),
                        });
                        return Err(LockError::Held {
                            state: state.to_owned(),
                            info,
                            stale: false,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(std::fs::TryLockError::Error(error)) => return Err(io(error)),
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Unlink while still holding the OS lock, so no one can take a lock on a file that is
        // about to disappear; the OS lock goes with the file handle.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Remove the lock file of `state`, but only if its id is `id` and no running process holds
/// it: the caller proves it means this lock, and a live run is never broken into. Returns
/// who held it.
pub fn force_unlock(state: &Path, id: &str) -> Result<LockInfo, LockError> {
    let path = lock_path(state);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LockError::NotLocked {
                state: state.to_owned(),
            })
        }
        Err(error) => return Err(LockError::Io { path, error }),
    };
    let info: LockInfo = serde_json::from_str(&text).map_err(|e| LockError::Unreadable {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if info.id != id.trim() {
        return Err(LockError::Mismatch {
            state: state.to_owned(),
            given: id.to_owned(),
            info: Box::new(info),
        });
    }
    if held(&path) {
        return Err(LockError::Held {
            state: state.to_owned(),
            info,
            stale: false,
        });
    }
    std::fs::remove_file(&path).map_err(|error| LockError::Io { path, error })?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Silent;

    #[test]
    fn second_lock_fails_naming_the_holder_and_drop_releases() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let first = Lock::acquire(&state, "apply", Duration::ZERO, &Silent).unwrap();
        let err = Lock::acquire(&state, "plan", Duration::ZERO, &Silent)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("locked by apply"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        Lock::acquire(&state, "plan", Duration::ZERO, &Silent).unwrap();
    }

    fn write_lock(state: &Path, id: &str, pid: u32) {
        let info = LockInfo {
            id: id.into(),
            pid,
            host: host(),
            command: "apply".into(),
            since: now(),
        };
        std::fs::write(lock_path(state), serde_json::to_string(&info).unwrap()).unwrap();
    }

    /// A pid no process of this host has.
    fn dead_pid() -> u32 {
        (999_999..)
            .find(|p| !Path::new(&format!("/proc/{p}")).exists())
            .unwrap()
    }

    #[test]
    fn a_lock_left_by_a_dead_run_is_taken_over_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        write_lock(&state, "dead-1", dead_pid());
        let start = Instant::now();
        let lock = Lock::acquire(&state, "plan", Duration::ZERO, &Silent).unwrap();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(holder(&state).unwrap().command, "plan");
        drop(lock);
        assert!(!lock_path(&state).exists());
    }

    #[test]
    fn force_unlock_refuses_a_live_holder() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let _live = Lock::acquire(&state, "apply", Duration::ZERO, &Silent).unwrap();
        let id = holder(&state).unwrap().id;
        let err = force_unlock(&state, &id).unwrap_err().to_string();
        assert!(err.contains("locked by apply"), "{err}");
        assert!(lock_path(&state).exists());
    }

    #[test]
    fn force_unlock_needs_the_holders_id() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        assert!(matches!(
            force_unlock(&state, "x"),
            Err(LockError::NotLocked { .. })
        ));
        write_lock(&state, "right", dead_pid());
        let err = force_unlock(&state, "wrong").unwrap_err().to_string();
        assert!(err.contains("held by apply"), "{err}");
        assert!(err.contains("lock id right"), "{err}");
        assert!(lock_path(&state).exists());
        assert_eq!(force_unlock(&state, "right").unwrap().id, "right");
        assert!(!lock_path(&state).exists());
    }
}
