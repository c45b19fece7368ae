//! Where a state lives: the local file (the default) or an S3 backend shared by a team, behind
//! one `Store` so that the engine loads, saves and locks a state the same way for both.

pub mod bootstrap;
pub mod s3;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::lock::{self, Lock, LockInfo};
use super::state::{State, StateError};
use super::Reporter;
use crate::vars::VarError;

/// The settings a `[backend]` table of a var file may hold.
pub const SETTINGS: &[&str] = &[
    "type",
    "bucket",
    "key",
    "region",
    "dynamodb_table",
    "use_lockfile",
    "encrypt",
    "kms_key_id",
];

/// A `[backend]` table: an S3 bucket (and optionally a DynamoDB lock table) holding the state.
/// It names where the state is, never what the stack is: no setting here changes a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendConfig {
    pub bucket: String,
    /// The object key; `<project>-<environment>.json` when not set, as the local file is named.
    pub key: Option<String>,
    /// The bucket's region; the stack's `aws_region` when not set.
    pub region: Option<String>,
    /// A DynamoDB table with a `LockID` string key, for teams that already lock with one.
    pub dynamodb_table: Option<String>,
    /// Lock with a `<key>.tflock` object written only if absent (Terraform 1.11's
    /// `use_lockfile`). When not set: on unless `dynamodb_table` is given.
    pub use_lockfile: Option<bool>,
    /// Server-side encryption of what stackctl writes (on by default).
    pub encrypt: bool,
    /// SSE-KMS with this key instead of SSE-S3 (AES256).
    pub kms_key_id: Option<String>,
    /// The var file the table came from, for messages and hints.
    pub origin: PathBuf,
}

fn bad(path: &Path, message: impl Into<String>, hint: impl Into<String>) -> VarError {
    VarError::Backend {
        path: path.to_owned(),
        message: message.into(),
        hint: hint.into(),
    }
}

impl BackendConfig {
    /// Read the `backend` value of var file `path`, naming the file and the setting in every
    /// error, all errors of the table at once.
    pub fn parse(path: &Path, value: &toml::Value) -> Result<BackendConfig, Vec<VarError>> {
        let Some(table) = value.as_table() else {
            return Err(vec![bad(
                path,
                format!("`backend` must be a table, got {}", value.type_str()),
                "write the settings under a `[backend]` line at the end of the file, such as bucket = \"...\"",
            )]);
        };
        let mut errors = Vec::new();
        let mut string = |key: &str| -> Option<String> {
            match table.get(key) {
                None => None,
                Some(toml::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                Some(other) => {
                    errors.push(bad(
                        path,
                        format!(
                            "[backend] {key} must be a non-empty string, got {}",
                            other.type_str()
                        ),
                        format!("write {key} = \"...\" under [backend]"),
                    ));
                    None
                }
            }
        };
        let kind = string("type");
        let bucket = string("bucket");
        let key = string("key");
        let region = string("region");
        let dynamodb_table = string("dynamodb_table");
        let kms_key_id = string("kms_key_id");
        let mut boolean = |key: &str| -> Option<bool> {
            match table.get(key) {
                None => None,
                Some(toml::Value::Boolean(b)) => Some(*b),
                Some(other) => {
                    errors.push(bad(
                        path,
                        format!(
                            "[backend] {key} must be a boolean, got {}",
                            other.type_str()
                        ),
                        format!("write {key} = true or {key} = false under [backend]"),
                    ));
                    None
                }
            }
        };
        let use_lockfile = boolean("use_lockfile");
        let encrypt = boolean("encrypt").unwrap_or(true);
        for k in table.keys().filter(|k| !SETTINGS.contains(&k.as_str())) {
            let near = SETTINGS
                .iter()
                .map(|s| (strsim::jaro_winkler(k, s), *s))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            errors.push(bad(
                path,
                format!(
                    "unknown [backend] setting `{k}`{}",
                    near.map(|(_, s)| format!("; did you mean `{s}`?"))
                        .unwrap_or_default()
                ),
                format!("the settings are {}", SETTINGS.join(", ")),
            ));
        }
        if let Some(kind) = kind.as_deref().filter(|k| *k != "s3") {
            errors.push(bad(
                path,
                format!("[backend] type {kind:?} is not supported"),
                "the only remote backend is type = \"s3\"; remove the [backend] table to keep the state in .stackctl/",
            ));
        }
        if bucket.is_none() && !table.contains_key("bucket") {
            errors.push(bad(
                path,
                "[backend] needs a bucket",
                "create one with `stackctl backend bootstrap -var-file FILE`: it prints the [backend] table to use",
            ));
        }
        if let (Some(false), None) = (use_lockfile, &dynamodb_table) {
            errors.push(bad(
                path,
                "[backend] use_lockfile = false without dynamodb_table leaves the remote state without a lock",
                "remove use_lockfile (the lock object is the default), or name the lock table with dynamodb_table",
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(BackendConfig {
            bucket: bucket.unwrap_or_default(),
            key,
            region,
            dynamodb_table,
            use_lockfile,
            encrypt,
            kms_key_id,
            origin: path.to_owned(),
        })
    }

    /// The state's object key for this stack.
    pub fn key_for(&self, project: &str, environment: &str) -> String {
        self.key
            .clone()
            .unwrap_or_else(|| format!("{project}-{environment}.json"))
    }

    pub fn lockfile(&self) -> bool {
        self.use_lockfile.unwrap_or(self.dynamodb_table.is_none())
    }
}

/// Where one state is kept. Cloning shares the remote store's view of the last version read,
/// so every write of a run is conditional on the one before.
#[derive(Clone)]
pub enum Store {
    Local(PathBuf),
    S3(s3::S3Store),
}

/// A held lock on a store; released when dropped. Never read: it is held for its `Drop`.
#[allow(dead_code)]
pub enum StoreLock {
    Local(Lock),
    S3(s3::remote_lock::RemoteLock),
}

impl Store {
    /// `s3://bucket/key` or the file's path, for every message about this state.
    pub fn describe(&self) -> String {
        match self {
            Store::Local(p) => p.display().to_string(),
            Store::S3(s) => s.describe(),
        }
    }

    /// The name messages use for this state, in the errors that take a path.
    pub fn message_path(&self) -> PathBuf {
        PathBuf::from(self.describe())
    }

    pub async fn exists(&self) -> Result<bool, StateError> {
        match self {
            Store::Local(p) => Ok(p.exists()),
            Store::S3(s) => s.exists().await,
        }
    }

    /// The state, or a new empty one if there is none yet.
    pub async fn load(&self) -> Result<State, StateError> {
        match self {
            Store::Local(p) => State::load(p),
            Store::S3(s) => s.load().await.map(|s| s.unwrap_or_else(State::new)),
        }
    }

    /// The state, which must exist: for commands that only read or edit one.
    pub async fn load_existing(&self) -> Result<State, StateError> {
        match self {
            Store::Local(p) => State::load_existing(p),
            Store::S3(s) => s.load().await?.ok_or_else(|| StateError::Missing {
                path: self.message_path(),
            }),
        }
    }

    /// Write `state` with its serial bumped: atomically for a file, conditionally on the
    /// version last read or written for S3.
    pub async fn save(&self, state: &mut State) -> Result<(), StateError> {
        match self {
            Store::Local(p) => state.save(p),
            Store::S3(s) => s.save(state).await,
        }
    }

    /// [`Store::save`] from synchronous code (the apply walk's recorder): the local store
    /// writes directly, the remote one blocks on its request.
    pub fn save_blocking(&self, state: &mut State) -> Result<(), StateError> {
        match self {
            Store::Local(p) => state.save(p),
            Store::S3(s) => block(s.save(state)),
        }
    }

    /// Lock the state for `command`; what the lock has to say later (a stale lock taken over,
    /// a lock it could not remove when dropped) goes to `report`.
    pub async fn lock(
        &self,
        command: &str,
        timeout: Duration,
        report: Reporter,
    ) -> anyhow::Result<StoreLock> {
        Ok(match self {
            Store::Local(p) => StoreLock::Local(Lock::acquire(p, command, timeout, &*report)?),
            Store::S3(s) => StoreLock::S3(s.lock(command, timeout, report).await?),
        })
    }

    /// Remove the lock whose id is `id`, unless a live run on this host holds it; who held it.
    pub async fn force_unlock(&self, id: &str) -> anyhow::Result<LockInfo> {
        Ok(match self {
            Store::Local(p) => lock::force_unlock(p, id)?,
            Store::S3(s) => s.force_unlock(id).await?,
        })
    }
}

/// Run `f` to completion from synchronous code inside or outside the runtime: the engine's
/// state recorder and `Drop` are synchronous, the SDK is not.
pub fn block<F>(f: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| h.block_on(f))
        }
        // A single-threaded runtime cannot block in place: run on a thread of its own.
        _ => std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a tokio runtime")
                        .block_on(f)
                })
                .join()
                .expect("the blocking thread")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BackendConfig, String> {
        let table: toml::Table = text.parse().unwrap();
        BackendConfig::parse(Path::new("dev.toml"), &table["backend"]).map_err(|errs| {
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    #[test]
    fn backend_table_defaults_and_errors_name_file_and_setting() {
        let c = parse("[backend]\nbucket = \"b\"\n").unwrap();
        assert!(c.encrypt && c.lockfile());
        assert_eq!(c.key_for("prestashop", "dev"), "prestashop-dev.json");
        let c = parse("[backend]\nbucket = \"b\"\ndynamodb_table = \"t\"\n").unwrap();
        assert!(!c.lockfile());
        let err = parse("[backend]\nbukcet = \"b\"\nencrypt = \"yes\"\n").unwrap_err();
        assert!(
            err.contains("dev.toml: unknown [backend] setting `bukcet`; did you mean `bucket`?"),
            "{err}"
        );
        assert!(
            err.contains("dev.toml: [backend] encrypt must be a boolean, got string"),
            "{err}"
        );
        assert!(err.contains("[backend] needs a bucket"), "{err}");
        let err = parse("[backend]\nbucket = \"b\"\ntype = \"gcs\"\n").unwrap_err();
        assert!(err.contains("type \"gcs\" is not supported"), "{err}");
        let err = parse("backend = 3\n").unwrap_err();
        assert!(err.contains("`backend` must be a table"), "{err}");
    }
}
