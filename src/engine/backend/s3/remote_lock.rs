//! The S3 backend's lock: a `<key>.tflock` object written only if absent and/or a DynamoDB
//! item with the `LockID` key, as Terraform does; apart from the state's reads and writes, which
//! share only the store with it.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use stackctl_contract::aws_error;

use super::{conflict, not_found, precondition_failed, retry_conflicts, s3_error, S3Store};
use crate::engine::lock::{host, LockInfo};
use crate::engine::Reporter;

#[derive(Debug, thiserror::Error)]
pub enum RemoteLockError {
    #[error("state {state} is locked by {} (pid {} on {}, since {}s ago, lock id {})\n  hint: {}",
        .info.command, .info.pid, .info.host, now().saturating_sub(.info.since), .info.id, .hint)]
    Held {
        state: String,
        info: Box<LockInfo>,
        hint: String,
    },
    #[error("state {state} is not locked: there is no lock {what}\n  hint: nothing to unlock; check the [backend] table of the var file if you expected a lock")]
    NotLocked { state: String, what: String },
    #[error("the lock {what} of state {state} cannot be read ({message})\n  hint: if no stackctl run is working on this state, delete it by hand ({what})")]
    Unreadable {
        state: String,
        what: String,
        message: String,
    },
    #[error("lock id {given:?} does not match the lock on {state}: it is held by {} (pid {} on {}, since {}s ago, lock id {}); nothing was removed\n  hint: force-unlock takes the lock id of the holder, as the lock error printed it",
        .info.command, .info.pid, .info.host, now().saturating_sub(.info.since), .info.id)]
    Mismatch {
        state: String,
        given: String,
        info: Box<LockInfo>,
    },
    #[error("cannot {operation} the lock of state {state}: {message}")]
    Aws {
        state: String,
        operation: String,
        message: String,
    },
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// [`aws_error`], with what to do about a missing lock table.
fn table_error<E>(
    operation: &str,
    err: SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if err.code() == Some("ResourceNotFoundException") {
        return format!("{operation}: the DynamoDB lock table does not exist\n  hint: create it with `stackctl backend bootstrap -var-file FILE -dynamodb-table NAME`, or correct dynamodb_table under [backend]");
    }
    aws_error(operation, err).to_string()
}

/// Where a lock lives: the lock object, or the lock table's item.
#[derive(Clone, Debug)]
enum Mechanism {
    Object { key: String },
    Table { table: String, lock_id: String },
}

/// A held remote lock: removed when dropped, only if it is still the one this run wrote.
pub struct RemoteLock {
    store: S3Store,
    held: Vec<(Mechanism, String)>,
    /// Told when a lock cannot be removed on drop.
    report: Reporter,
}

impl Drop for RemoteLock {
    fn drop(&mut self) {
        let held = std::mem::take(&mut self.held);
        let store = self.store.clone();
        let report = self.report.clone();
        super::super::block(async move {
            for (mech, token) in held.iter().rev() {
                if let Err(e) = store.delete_lock(mech, token).await {
                    report.warn(&format!(
                        "{e}; remove it with `stackctl force-unlock ID {}` once this run is over",
                        store.inner.locate
                    ));
                }
            }
        });
    }
}

impl S3Store {
    fn mechanisms(&self) -> Vec<Mechanism> {
        let i = &self.inner;
        let mut m = Vec::new();
        if i.lockfile {
            m.push(Mechanism::Object {
                key: format!("{}.tflock", i.key),
            });
        }
        if let Some(table) = &i.table {
            m.push(Mechanism::Table {
                table: table.clone(),
                lock_id: format!("{}/{}", i.bucket, i.key),
            });
        }
        m
    }

    fn what(&self, mech: &Mechanism) -> String {
        match mech {
            Mechanism::Object { key } => format!("object s3://{}/{key}", self.inner.bucket),
            Mechanism::Table { table, lock_id } => {
                format!("item LockID={lock_id:?} of DynamoDB table {table}")
            }
        }
    }

    fn aws_lock_error(&self, operation: &str, message: impl std::fmt::Display) -> RemoteLockError {
        RemoteLockError::Aws {
            state: self.describe(),
            operation: operation.to_owned(),
            message: message.to_string(),
        }
    }

    /// Write the lock if there is none: `Ok(Some(token))` when written (the token proves it is
    /// ours when removing it), `Ok(None)` when someone holds it.
    async fn try_lock(
        &self,
        mech: &Mechanism,
        text: &str,
    ) -> Result<Option<String>, RemoteLockError> {
        match mech {
            Mechanism::Object { key } => {
                let put = || {
                    self.put(key, text.as_bytes().to_vec())
                        .content_type("application/json")
                        .if_none_match("*")
                        .send()
                };
                match retry_conflicts(put).await {
                    Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_owned())),
                    // Held, or still being written by another run: the holder says whose.
                    Err(e) if precondition_failed(&e) || conflict(&e) => Ok(None),
                    Err(e) => Err(self.aws_lock_error("take", s3_error("s3:PutObject", e))),
                }
            }
            Mechanism::Table { table, lock_id } => {
                let put = self
                    .inner
                    .dynamodb
                    .put_item()
                    .table_name(table)
                    .item("LockID", AttributeValue::S(lock_id.clone()))
                    .item("Info", AttributeValue::S(text.to_owned()))
                    .condition_expression("attribute_not_exists(LockID)");
                match put.send().await {
                    Ok(_) => Ok(Some(text.to_owned())),
                    Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(None),
                    Err(e) => Err(self.aws_lock_error("take", table_error("dynamodb:PutItem", e))),
                }
            }
        }
    }

    /// Who holds the lock, and the token to remove exactly that lock; `None` if nobody.
    async fn holder(&self, mech: &Mechanism) -> Result<Option<(Holder, String)>, RemoteLockError> {
        let (text, token) = match mech {
            Mechanism::Object { key } => {
                let i = &self.inner;
                let out = match i.s3.get_object().bucket(&i.bucket).key(key).send().await {
                    Ok(out) => out,
                    Err(e) if not_found(&e) => return Ok(None),
                    Err(e) => return Err(self.aws_lock_error("read", s3_error("s3:GetObject", e))),
                };
                let etag = out.e_tag().unwrap_or_default().to_owned();
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| self.aws_lock_error("read", e))?
                    .into_bytes();
                (String::from_utf8_lossy(&bytes).into_owned(), etag)
            }
            Mechanism::Table { table, lock_id } => {
                let out = self
                    .inner
                    .dynamodb
                    .get_item()
                    .table_name(table)
                    .key("LockID", AttributeValue::S(lock_id.clone()))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| self.aws_lock_error("read", table_error("dynamodb:GetItem", e)))?;
                let Some(item) = out.item else {
                    return Ok(None);
                };
                let text = item
                    .get("Info")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                (text.clone(), text)
            }
        };
        let info = serde_json::from_str(&text).map_err(|e| RemoteLockError::Unreadable {
            state: self.describe(),
            what: self.what(mech),
            message: e.to_string(),
        })?;
        Ok(Some((info, token)))
    }

    /// Remove the lock only if it is still the one `token` names.
    async fn delete_lock(&self, mech: &Mechanism, token: &str) -> Result<(), RemoteLockError> {
        match mech {
            Mechanism::Object { key } => {
                let i = &self.inner;
                let delete = || {
                    i.s3.delete_object()
                        .bucket(&i.bucket)
                        .key(key)
                        .if_match(token)
                        .send()
                };
                // A 409 is a write in flight, not a refusal: retried, never taken as "gone".
                match retry_conflicts(delete).await {
                    Ok(_) => Ok(()),
                    // Gone already (a retry whose first attempt removed it, its answer lost),
                    // or replaced: not ours to remove.
                    Err(e) if precondition_failed(&e) || not_found(&e) => Ok(()),
                    Err(e) => Err(self.aws_lock_error("remove", s3_error("s3:DeleteObject", e))),
                }
            }
            Mechanism::Table { table, lock_id } => {
                match self
                    .inner
                    .dynamodb
                    .delete_item()
                    .table_name(table)
                    .key("LockID", AttributeValue::S(lock_id.clone()))
                    .condition_expression("Info = :info")
                    .expression_attribute_values(":info", AttributeValue::S(token.to_owned()))
                    .send()
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(()),
                    Err(e) => {
                        Err(self.aws_lock_error("remove", table_error("dynamodb:DeleteItem", e)))
                    }
                }
            }
        }
    }

    /// Take every lock this backend uses, waiting up to `timeout` for a holder to let go. A
    /// lock another machine holds cannot be known dead: it is reported with its age and the
    /// `force-unlock` that removes it. One left on this machine by a process that is gone is
    /// taken over, as the local lock does.
    pub async fn lock(
        &self,
        command: &str,
        timeout: Duration,
        report: Reporter,
    ) -> Result<RemoteLock, RemoteLockError> {
        let id = uuid::Uuid::new_v4().to_string();
        let info = LockInfo {
            id: id.clone(),
            pid: std::process::id(),
            host: host(),
            command: command.to_owned(),
            since: now(),
        };
        let text = serde_json::to_string_pretty(&Holder {
            info,
            process_space: process_space(),
        })
        .unwrap_or_default();
        let mut lock = RemoteLock {
            store: self.clone(),
            held: Vec::new(),
            report: report.clone(),
        };
        let start = Instant::now();
        for mech in self.mechanisms() {
            loop {
                if let Some(token) = self.try_lock(&mech, &text).await? {
                    lock.held.push((mech.clone(), token));
                    break;
                }
                let Some((old, token)) = self.holder(&mech).await? else {
                    // Released in between: try again at once.
                    continue;
                };
                if old.info.id == id {
                    // This run's own lock: the SDK retried a write whose answer was lost, and
                    // the retry found what the first attempt wrote.
                    lock.held.push((mech.clone(), token));
                    break;
                }
                if old.stale() {
                    let old = old.info;
                    report.warn(&format!(
                        "the lock on {} left by {} (pid {} on {}, {}s ago, lock id {}) is stale: that process is gone. Taking it over.",
                        self.describe(), old.command, old.pid, old.host, now().saturating_sub(old.since), old.id
                    ));
                    self.delete_lock(&mech, &token).await?;
                    continue;
                }
                let old = old.info;
                if start.elapsed() >= timeout {
                    return Err(RemoteLockError::Held {
                        state: self.describe(),
                        hint: format!(
                            "wait for that run to finish, or pass -lock-timeout 5m to wait for it; if that run was killed, `stackctl force-unlock {} {}` removes its lock (make sure it is not running first)",
                            old.id, self.inner.locate
                        ),
                        info: Box::new(old),
                    });
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        Ok(lock)
    }

    /// Remove the lock whose id is `id`, unless a live process of this host holds it.
    pub async fn force_unlock(&self, id: &str) -> Result<LockInfo, RemoteLockError> {
        let mut found = None;
        for mech in self.mechanisms() {
            let Some((holder, token)) = self.holder(&mech).await? else {
                continue;
            };
            let live_here = holder.here() && alive(holder.info.pid);
            let info = holder.info;
            if info.id != id.trim() {
                return Err(RemoteLockError::Mismatch {
                    state: self.describe(),
                    given: id.to_owned(),
                    info: Box::new(info),
                });
            }
            if live_here {
                return Err(RemoteLockError::Held {
                    state: self.describe(),
                    hint: "that process is running on this machine: wait for it to finish"
                        .to_owned(),
                    info: Box::new(info),
                });
            }
            self.delete_lock(&mech, &token).await?;
            found = Some(info);
        }
        found.ok_or_else(|| RemoteLockError::NotLocked {
            state: self.describe(),
            what: self
                .mechanisms()
                .iter()
                .map(|m| self.what(m))
                .collect::<Vec<_>>()
                .join(" nor "),
        })
    }
}

/// What a remote lock object or item holds: the holder, and where its pid means something.
#[derive(serde::Serialize, serde::Deserialize)]
struct Holder {
    #[serde(flatten)]
    info: LockInfo,
    /// This boot of this machine and the pid namespace of the process: two containers may
    /// share a host name, and a pid is only worth checking inside its own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    process_space: Option<String>,
}

impl Holder {
    /// The holder's pid can be checked from here: the same host and, where the system says
    /// (Linux), the same boot and pid namespace, since two containers may share a host name.
    /// Where it cannot say (macOS), the host name decides.
    fn here(&self) -> bool {
        if self.info.host != host() {
            return false;
        }
        match (&self.process_space, process_space()) {
            (Some(theirs), Some(ours)) => *theirs == ours,
            _ => true,
        }
    }

    /// Left by a process of this machine that is no longer running. A lock from anywhere
    /// else never is, as far as stackctl can tell.
    fn stale(&self) -> bool {
        self.here() && !alive(self.info.pid)
    }
}

/// `<boot id>/<pid namespace>` of this process, if the system says (Linux).
fn process_space() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{}/{}", boot.trim(), ns.display()))
}

/// Whether process `pid` of this host runs: `kill(pid, 0)` on every unix (ESRCH: gone; EPERM:
/// another user's, alive). Where it cannot be asked, a holder counts as alive: its lock then
/// needs force-unlock, never a guess.
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return true;
        };
        if pid <= 0 {
            // 0 and negative pids name process groups, not a process.
            return true;
        }
        // SAFETY: signal 0 sends nothing; it only checks that the process exists.
        let ok = unsafe { libc::kill(pid, 0) } == 0;
        ok || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    true
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::tests::store;
    use super::*;
    use crate::engine::Silent;
    use stackctl_testkit::Moto;

    #[tokio::test(flavor = "multi_thread")]
    async fn the_lock_object_names_its_holder_and_goes_with_the_lock() {
        let moto = Moto::start();
        let s = store(&moto, "locks").await;
        let lock = s
            .lock("apply", Duration::ZERO, Arc::new(Silent))
            .await
            .unwrap();
        let err = s
            .lock("plan", Duration::ZERO, Arc::new(Silent))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("state s3://locks/s.json is locked by apply"),
            "{err}"
        );
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(lock);
        let again = s
            .lock("plan", Duration::ZERO, Arc::new(Silent))
            .await
            .unwrap();
        drop(again);
        assert!(s
            .holder(&Mechanism::Object {
                key: "s.json.tflock".into()
            })
            .await
            .unwrap()
            .is_none());
    }
}
