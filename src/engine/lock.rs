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
    #[error("state {state} is locked by {} (pid {} on {}, since {}s ago, lock id {})\n  hint: wait for that run to finish, pass -lock-timeout 5m to wait for it{}",
        .info.command, .info.pid, .info.host, now().saturating_sub(.info.since), .info.id,
        if *.stale { format!("; that process is gone, so the lock is stale: remove it with `stackctl force-unlock {}`", .info.id) } else { String::new() })]
    Held {
        state: PathBuf,
        info: LockInfo,
        stale: bool,
    },
    #[error("cannot create lock file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A held lock, released on drop (also on an error path or Ctrl-C unwinding through main).
pub struct Lock {
    path: PathBuf,
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

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".to_owned())
}

/// Read the current holder of the lock on `state`, if any.
pub fn holder(state: &Path) -> Option<LockInfo> {
    std::fs::read_to_string(lock_path(state))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
}

/// Whether the holder is a process of this host that no longer exists.
pub fn is_stale(info: &LockInfo) -> bool {
    info.host == host() && !Path::new(&format!("/proc/{}", info.pid)).exists()
}

impl Lock {
    /// Take the lock, waiting up to `timeout` for another run to release it.
    pub fn acquire(state: &Path, command: &str, timeout: Duration) -> Result<Lock, LockError> {
        let path = lock_path(state);
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| LockError::Io {
                path: path.clone(),
                source,
            })?;
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
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let text = serde_json::to_string_pretty(&info).unwrap_or_default();
                    f.write_all(text.as_bytes())
                        .map_err(|source| LockError::Io {
                            path: path.clone(),
                            source,
                        })?;
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if start.elapsed() >= timeout {
                        // A lock file still being written reads as empty: report what we can.
                        let info = holder(state).unwrap_or(LockInfo {
                            id: "?".into(),
                            pid: 0,
                            host: "?".into(),
                            command: "?".into(),
                            since: now(),
                        });
                        let stale = is_stale(&info);
                        return Err(LockError::Held {
                            state: state.to_owned(),
                            info,
                            stale,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(source) => return Err(LockError::Io { path, source }),
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_naming_the_holder_and_drop_releases() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let first = Lock::acquire(&state, "apply", Duration::ZERO).unwrap();
        let err = Lock::acquire(&state, "plan", Duration::ZERO)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("locked by apply"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        Lock::acquire(&state, "plan", Duration::ZERO).unwrap();
    }
}
