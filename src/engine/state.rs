//! The local JSON state: what stackctl created, with a format version, a serial and a lineage,
//! written atomically after every resource operation so an interrupted run loses nothing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as J;
use stackctl_contract::{Address, Instance, Values};

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
    /// Where the stack lives: recorded at the first apply, checked by every later command, so a
    /// state is never applied to, or destroyed from, another account or region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<Location>,
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceState>,
    #[serde(default)]
    pub outputs: BTreeMap<String, Output>,
}

/// The AWS account, partition and region a state's resources live in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub account_id: String,
    pub partition: String,
    pub region: String,
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
    #[error("cannot read state file {path}: {error}\n  hint: check the path and its permissions; the file was left untouched")]
    Read {
        path: PathBuf,
        /// In the message; not named `source`, which `{:#}` would print a second time.
        error: std::io::Error,
    },
    #[error("state file {path} is corrupt or truncated ({message}); it was left untouched\n  hint: restore {path}.backup if it is intact, or inspect the file by hand")]
    Corrupt { path: PathBuf, message: String },
    #[error("state file {path} has format version {found}, newer than this stackctl understands ({FORMAT_VERSION}); it was left untouched\n  hint: use a newer stackctl")]
    TooNew { path: PathBuf, found: u32 },
    #[error("cannot write state file {path}: {error}\n  hint: check the directory is writable and the disk has space; nothing AWS created is lost, re-run the same command once fixed")]
    Write {
        path: PathBuf,
        /// In the message; not named `source`, which `{:#}` would print a second time.
        error: std::io::Error,
    },
    #[error("state {path} holds resources in AWS account {state_account}, but the credentials in use are for account {account}; nothing was changed\n  hint: switch to account {state_account}'s credentials (AWS_PROFILE), or give account {account} its own environment or -state")]
    OtherAccount {
        path: PathBuf,
        state_account: String,
        account: String,
    },
    #[error("state {path} holds resources in region {state_region}, but this run targets {region}{}; nothing was changed\n  hint: set aws_region = \"{state_region}\" for this stack, or give {region} its own environment or -state",
        origin.as_ref().map(|o| format!(" (aws_region from {o})")).unwrap_or_default())]
    OtherRegion {
        path: PathBuf,
        state_region: String,
        region: String,
        origin: Option<String>,
    },
    #[error("state {state} changed since this run read it: another writer saved it in between; nothing was overwritten\n  hint: run the command again: it starts from the newer state (what this run created in AWS is found again by name)")]
    Changed { state: String },
    #[error("cannot read state {state}: {message}")]
    RemoteRead { state: String, message: String },
    #[error("cannot write state {state}: {message}\n  hint: {hint}")]
    RemoteWrite {
        state: String,
        message: String,
        hint: String,
    },
    #[error("no state file at {path}\n  hint: run `stackctl apply` first, or point at the state with -state PATH or the -var-file you applied with")]
    Missing { path: PathBuf },
    #[error("no resource {address} in state {path}{}\n  hint: `stackctl state list` prints the addresses; quote an address with brackets for the shell: 'module.efs.aws_efs_mount_target.main[\"eu-west-3a\"]'",
        suggestion.as_ref().map(|s| format!("; did you mean {s}?")).unwrap_or_default())]
    NoResource {
        path: PathBuf,
        address: String,
        suggestion: Option<String>,
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
            aws: None,
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
        }
    }

    /// Load `path`, or a new empty state if there is no file yet.
    pub fn load(path: &Path) -> Result<State, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::new()),
            Err(error) => {
                return Err(StateError::Read {
                    path: path.to_owned(),
                    error,
                })
            }
        };
        State::parse(path, &text)
    }

    /// Parse a state's JSON; `path` names where it came from in the errors.
    pub fn parse(path: &Path, text: &str) -> Result<State, StateError> {
        // Read the version first, so a newer format is reported as such rather than as corrupt.
        let probe: J = serde_json::from_str(text).map_err(|e| StateError::Corrupt {
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

    /// Load `path`, which must exist: for commands that only read or edit a state.
    pub fn load_existing(path: &Path) -> Result<State, StateError> {
        if !path.exists() {
            return Err(StateError::Missing {
                path: path.to_owned(),
            });
        }
        State::load(path)
    }

    /// The resource at `address`; an error naming it (and the closest address) otherwise.
    /// `path` is only for the message.
    pub fn resource(&self, path: &Path, address: &str) -> Result<&ResourceState, StateError> {
        self.resources
            .get(address)
            .ok_or_else(|| StateError::NoResource {
                path: path.to_owned(),
                address: address.to_owned(),
                suggestion: self
                    .resources
                    .keys()
                    .map(|a| (strsim::jaro_winkler(address, a), a))
                    .filter(|(score, _)| *score > 0.9)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, a)| a.clone()),
            })
    }

    /// Forget `addresses`, all or none: an unknown one is an error and nothing is removed.
    /// AWS is not touched; the resources live on, unmanaged.
    pub fn remove(&mut self, path: &Path, addresses: &[String]) -> Result<(), StateError> {
        for address in addresses {
            self.resource(path, address)?;
        }
        for address in addresses {
            self.resources.remove(address);
        }
        Ok(())
    }

    /// Addresses equal to `filter` or inside it (`module.rds` holds
    /// `module.rds.aws_db_instance.main`; `...main` holds `...main["eu-west-3a"]`).
    pub fn addresses_under<'a>(&'a self, filter: &'a str) -> impl Iterator<Item = &'a String> {
        self.resources
            .keys()
            .filter(move |a| Address::parse(a).map_or(a.as_str() == filter, |a| a.is_under(filter)))
    }

    /// Write atomically: a temp file in the same directory, fsync, keep the previous file as
    /// `.backup`, rename over. A crash at any point leaves either the old or the new file whole.
    pub fn save(&mut self, path: &Path) -> Result<(), StateError> {
        self.serial += 1;
        self.stackctl_version = env!("CARGO_PKG_VERSION").to_owned();
        let err = |error| StateError::Write {
            path: path.to_owned(),
            error,
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
    fn remove_is_all_or_nothing_and_names_the_unknown_address() {
        let mut s = State::new();
        for a in ["module.a.t.x", "module.a.t.y"] {
            s.resources.insert(
                a.to_owned(),
                ResourceState {
                    type_name: "t".into(),
                    id: "i".into(),
                    attrs: Values::new(),
                    depends_on: Vec::new(),
                },
            );
        }
        let path = Path::new("s.json");
        let err = s
            .remove(path, &["module.a.t.x".into(), "module.a.t.z".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no resource module.a.t.z in state s.json"),
            "{err}"
        );
        assert_eq!(s.resources.len(), 2);
        s.remove(path, &["module.a.t.x".into()]).unwrap();
        assert_eq!(s.resources.keys().collect::<Vec<_>>(), ["module.a.t.y"]);
        assert_eq!(s.addresses_under("module.a").count(), 1);
        assert_eq!(s.addresses_under("module.a.t").count(), 1);
        assert_eq!(s.addresses_under("module.ab").count(), 0);
    }

    #[test]
    fn a_missing_file_is_an_error_for_state_commands() {
        let dir = tempfile::tempdir().unwrap();
        let err = State::load_existing(&dir.path().join("none.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no state file at"), "{err}");
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
