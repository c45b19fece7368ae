//! The local JSON state: what stackctl created, with a format version, a serial and a lineage,
//! written atomically after every resource operation so an interrupted run loses nothing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as J;
use stackctl_contract::{Instance, Values};

/// The format this build reads and writes. A newer file is refused, never rewritten.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    pub format_version: u32,
    /// Incremented on every write: a later file with the same lineage is newer.
    pub serial: u64,
    /// Fixed when the state is first created: two files with different lineages are two
    /// different stacks and must never be confused.
    pub lineage: String,
    pub stackctl_version: String,
    /// Random per state: the key of the fingerprints that stand in for secret values, so equal
    /// passwords in two states do not give equal fingerprints and no precomputed table helps.
    pub fingerprint_salt: String,
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceState>,
    #[serde(default)]
    pub outputs: BTreeMap<String, Output>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceState {
    #[serde(rename = "type")]
    pub type_name: String,
    pub id: String,
    #[serde(default)]
    pub attrs: Values,
    /// The addresses it depended on when last written: destroy order comes from here, so a
    /// resource can be deleted correctly even once the configuration no longer has it.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

impl ResourceState {
    pub fn instance(&self) -> Instance {
        Instance::new(self.id.clone(), self.attrs.clone())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub value: J,
    pub sensitive: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is corrupt or truncated ({message}); it was left untouched\n  hint: restore {path}.backup if it is intact, or inspect the file by hand")]
    Corrupt { path: PathBuf, message: String },
    #[error("state file {path} has format version {found}, newer than this stackctl understands ({FORMAT_VERSION}); it was left untouched\n  hint: use a newer stackctl")]
    TooNew { path: PathBuf, found: u32 },
    #[error("cannot write state file {path}: {source}\n  hint: check the directory is writable and the disk has space; nothing AWS created is lost, re-run the same command once fixed")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl State {
    pub fn new() -> Self {
        State {
            format_version: FORMAT_VERSION,
            serial: 0,
            lineage: uuid::Uuid::new_v4().to_string(),
            stackctl_version: env!("CARGO_PKG_VERSION").to_owned(),
            fingerprint_salt: hex(&rand::random::<[u8; 16]>()),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
        }
    }

    /// Load `path`, or a new empty state if there is no file yet.
    pub fn load(path: &Path) -> Result<State, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::new()),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        // Read the version first, so a newer format is reported as such rather than as corrupt.
        let probe: J = serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let found = probe.get("format_version").and_then(J::as_u64).unwrap_or(0) as u32;
        if found > FORMAT_VERSION {
            return Err(StateError::TooNew {
                path: path.to_owned(),
                found,
            });
        }
        serde_json::from_value(probe).map_err(|e| StateError::Corrupt {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Write atomically: a temp file in the same directory, fsync, keep the previous file as
    /// `.backup`, rename over. A crash at any point leaves either the old or the new file whole.
    pub fn save(&mut self, path: &Path) -> Result<(), StateError> {
        self.serial += 1;
        self.stackctl_version = env!("CARGO_PKG_VERSION").to_owned();
        let err = |source| StateError::Write {
            path: path.to_owned(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut json =
            serde_json::to_vec_pretty(self).map_err(|e| err(std::io::Error::other(e)))?;
        json.push(b'\n');
        let tmp = dir.join(format!(
            ".{}.tmp.{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
            std::process::id()
        ));
        {
            let mut f = std::fs::File::create(&tmp).map_err(err)?;
            f.write_all(&json).map_err(err)?;
            f.sync_all().map_err(err)?;
        }
        if path.exists() {
            std::fs::copy(path, backup_path(path)).map_err(err)?;
        }
        std::fs::rename(&tmp, path).map_err(err)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

pub fn backup_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".backup");
    PathBuf::from(p)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips_and_bumps_serial() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut s = State::new();
        s.save(&path).unwrap();
        s.save(&path).unwrap();
        let back = State::load(&path).unwrap();
        assert_eq!(back.serial, 2);
        assert_eq!(back.lineage, s.lineage);
        assert!(backup_path(&path).exists());
    }

    #[test]
    fn corrupt_and_newer_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, "{\"format_version\": 1, \"ser").unwrap();
        assert!(matches!(
            State::load(&path),
            Err(StateError::Corrupt { .. })
        ));
        std::fs::write(&path, "{\"format_version\": 99}").unwrap();
        assert!(matches!(
            State::load(&path),
            Err(StateError::TooNew { found: 99, .. })
        ));
    }
}
