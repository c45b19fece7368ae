//! Saved plans: `plan -out FILE` writes Terraform's JSON plan shape plus what binds it to one
//! stack and one state; `apply FILE` applies exactly that plan or refuses it.
//!
//! The file holds no secret value. The passwords are variables: the file records only their
//! fingerprints (salted with the state's own salt, as the state records them), and `apply FILE`
//! reads them again from the environment or var files and refuses a password whose fingerprint
//! differs. The other variables the plan was made with are in the file and are used as they
//! are. `apply FILE` plans again from them and refuses unless the new plan makes the very same
//! changes (same resources, actions and resulting values): a plan file is a promise of what
//! apply will do, and AWS may have moved since. Serial and lineage are checked first, so a
//! plan made before another apply is refused without reading AWS.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as J;

use super::session::Session;
use crate::engine::json_plan;
use crate::engine::plan::{Plan, Targeting};
use crate::engine::{Config, Registry};
use crate::vars::{Raw, DEFS};

/// The saved plan file: Terraform's JSON plan (`terraform show -json` of a plan), in its key
/// order, plus what binds it to one stack and one state.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: String,
    /// The Terraform release whose format this follows; tools read it to know a plan.
    #[serde(default)]
    pub terraform_version: String,
    pub stackctl_version: String,
    /// The non-sensitive variables that were given (a default is the same for the same
    /// stackctl version), as `{name: {value}}`.
    pub variables: BTreeMap<String, Variable>,
    /// The sensitive variables' fingerprints; never their values.
    pub sensitive_variables: BTreeMap<String, String>,
    /// Every resource the plan leaves, as the provider's values (known ones), and the outputs.
    #[serde(default)]
    pub planned_values: J,
    /// With -refresh-only: what changed outside stackctl, in `resource_changes`' shape.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_drift: Vec<J>,
    pub resource_changes: Vec<J>,
    #[serde(default)]
    pub output_changes: J,
    /// The state the plan was made from, as the plan's refresh read it.
    #[serde(default)]
    pub prior_state: J,
    /// The module calls, resources and outputs with their expressions (constants and
    /// references), which policy tools follow to connect resources.
    #[serde(default)]
    pub configuration: J,
    #[serde(default)]
    pub relevant_attributes: Vec<J>,
    #[serde(default)]
    pub timestamp: String,
    /// Whether applying it would change anything.
    pub applyable: bool,
    pub complete: bool,
    pub errored: bool,
    /// Made by `plan -refresh-only`: applying it records drift, changes nothing in AWS.
    #[serde(default)]
    pub refresh_only: bool,
    pub stack: Binding,
    #[serde(default)]
    pub targeting: Targeting,
    /// The state's salt, for a plan of a stack with no state yet: apply creates its state with
    /// this salt and lineage, so the fingerprints compare.
    pub fingerprint_salt: String,
    /// The plan command's flags as the user gave them (no password, no -out): a hint to plan
    /// again repeats them. Empty in a file of an earlier stackctl.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan_args: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Variable {
    pub value: String,
}

/// The stack and state a plan was made for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub project: String,
    pub environment: String,
    pub account_id: String,
    pub partition: String,
    pub region: String,
    pub state_lineage: String,
    /// 0: no state existed yet.
    pub state_serial: u64,
    /// Where that state is, when it is a local file: `apply FILE` uses it unless -state says
    /// otherwise. None for a `[backend]` state, which `var_files` lead to.
    #[serde(default)]
    pub state_path: Option<PathBuf>,
    /// The var files the plan read (absolute): `apply FILE` without -var-file reads them again,
    /// for their `[backend]` table and the variables the plan does not carry.
    #[serde(default)]
    pub var_files: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read plan file {path}: {error}\n  hint: check the path; `stackctl plan -out FILE` writes one")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is not a stackctl plan file ({message})\n  hint: `stackctl plan -out FILE` writes one; a Terraform plan file cannot be applied by stackctl")]
    Corrupt { path: PathBuf, message: String },
    #[error("plan file {path} was written by stackctl {found} (format {format}); this is stackctl {ours}\n  hint: plan again with this stackctl: `stackctl plan -out {path}`")]
    OtherVersion {
        path: PathBuf,
        found: String,
        format: String,
        ours: &'static str,
    },
    #[error("cannot write plan file {path}: {error}\n  hint: check the directory exists and is writable")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("saved plan {path} is stale: {why}; nothing was changed\n  hint: plan again (`{again}`), review it, then apply it")]
    Stale {
        path: PathBuf,
        why: String,
        /// The plan command to run again, with the flags the plan was made with.
        again: String,
    },
    #[error("saved plan {path} is for {planned}, but this run is for {here}; nothing was changed\n  hint: apply it with the credentials, region and state it was planned with, or plan again here")]
    OtherStack {
        path: PathBuf,
        planned: String,
        here: String,
    },
    #[error("{name} differs from the value saved plan {path} was made with (its fingerprint does not match); nothing was changed\n  hint: set {name} as it was at plan time (STACKCTL_VAR_{name} or the var file), or plan again")]
    Secret { path: PathBuf, name: String },
    #[error("{name} is {given:?} here ({origin}), but saved plan {path} was made with {planned:?}; a saved plan applies its own variables\n  hint: drop it from this command, or plan again with it")]
    Variable {
        path: PathBuf,
        name: String,
        given: String,
        origin: String,
        planned: String,
    },
    #[error("saved plan {path} no longer describes what apply would do (changed outside stackctl since it was made): {addresses}; nothing was changed\n  hint: plan again (`{again}`), review it, then apply it")]
    Drift {
        path: PathBuf,
        addresses: String,
        again: String,
    },
}

impl SavedPlan {
    /// Record the var files the plan read, as absolute paths.
    pub fn with_var_files(mut self, var_files: &[PathBuf]) -> SavedPlan {
        self.stack.var_files = var_files
            .iter()
            .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()))
            .collect();
        self
    }

    /// The plan, bound to the session's stack and state. `config` is the configuration it was
    /// made from (none for -refresh-only, which reads only the state).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        session: &Session,
        raw: &Raw,
        plan: &Plan,
        config: Option<&Config>,
        registry: &Registry,
        targeting: &Targeting,
        refresh_only: bool,
        drift: Vec<J>,
    ) -> SavedPlan {
        let salt = session.state.fingerprint_salt.clone();
        let mut variables = BTreeMap::new();
        let mut sensitive_variables = BTreeMap::new();
        for def in DEFS {
            let Some((value, _)) = raw.given(def.name) else {
                continue;
            };
            if def.sensitive {
                sensitive_variables.insert(
                    def.name.to_owned(),
                    crate::engine::fingerprint(&salt, &value),
                );
            } else {
                variables.insert(def.name.to_owned(), Variable { value });
            }
        }
        let (project, environment) = raw.project_env();
        let loc = session
            .state
            .aws
            .clone()
            .unwrap_or(crate::engine::state::Location {
                account_id: session.identity.account.clone(),
                partition: session.identity.partition.clone(),
                region: raw.region(),
            });
        let outputs = config
            .map(|c| crate::engine::plan::planned_outputs(plan, &c.outputs))
            .unwrap_or_default();
        let stamp = crate::ui::timestamp(std::time::SystemTime::now());
        SavedPlan {
            format_version: json_plan::FORMAT_VERSION.to_owned(),
            terraform_version: json_plan::TERRAFORM_VERSION.to_owned(),
            stackctl_version: env!("CARGO_PKG_VERSION").to_owned(),
            variables,
            sensitive_variables,
            planned_values: json_plan::planned_values(plan, &outputs),
            resource_changes: if refresh_only {
                Vec::new()
            } else {
                json_plan::resource_changes(plan)
            },
            resource_drift: drift.clone(),
            output_changes: json_plan::output_changes(plan, &outputs),
            prior_state: json_plan::prior_state(plan),
            configuration: config
                .map(|c| json_plan::configuration(c, registry, &loc.region))
                .unwrap_or(J::Null),
            relevant_attributes: Vec::new(),
            // Terraform's stamp has whole seconds.
            timestamp: format!("{}Z", stamp.get(..19).unwrap_or(&stamp)),
            applyable: plan.has_changes() || (refresh_only && !drift.is_empty()),
            complete: targeting.targets.is_empty(),
            errored: false,
            refresh_only,
            stack: Binding {
                project,
                environment,
                account_id: loc.account_id,
                partition: loc.partition,
                region: loc.region,
                state_lineage: session.state.lineage.clone(),
                state_serial: session.state.serial,
                state_path: matches!(session.store, crate::engine::backend::Store::Local(_))
                    .then(|| session.state_path.clone()),
                var_files: Vec::new(),
            },
            targeting: targeting.clone(),
            fingerprint_salt: salt,
            plan_args: Vec::new(),
        }
    }

    /// The flags the plan was made with, for the hints that say to plan again.
    pub fn with_plan_args(mut self, args: Vec<String>) -> SavedPlan {
        self.plan_args = args;
        self
    }

    /// `stackctl plan <the plan's own flags> -out FILE`: the command that made this plan.
    pub fn plan_again(&self, path: &Path) -> String {
        let mut words = vec!["stackctl".to_owned(), "plan".to_owned()];
        words.extend(self.plan_args.iter().map(|a| shell_word(a)));
        words.push("-out".to_owned());
        words.push(shell_word(&path.display().to_string()));
        words.join(" ")
    }

    pub fn write(&self, path: &Path) -> Result<(), SavedPlanError> {
        let mut text = serde_json::to_string_pretty(self).expect("a plan serializes");
        text.push('\n');
        std::fs::write(path, text).map_err(|error| SavedPlanError::Write {
            path: path.to_owned(),
            error,
        })
    }

    pub fn read(path: &Path) -> Result<SavedPlan, SavedPlanError> {
        let text = std::fs::read_to_string(path).map_err(|error| SavedPlanError::Read {
            path: path.to_owned(),
            error,
        })?;
        let corrupt = |message: String| SavedPlanError::Corrupt {
            path: path.to_owned(),
            message,
        };
        let probe: J = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        let found = probe["stackctl_version"].as_str().unwrap_or_default();
        let format = probe["format_version"].as_str().unwrap_or_default();
        if found.is_empty() || format.is_empty() {
            return Err(corrupt("no stackctl_version or format_version".into()));
        }
        // Another version may plan differently (defaults, kinds): a plan is applied by the
        // stackctl that made it, as Terraform requires.
        if found != env!("CARGO_PKG_VERSION") || format != json_plan::FORMAT_VERSION {
            return Err(SavedPlanError::OtherVersion {
                path: path.to_owned(),
                found: found.to_owned(),
                format: format.to_owned(),
                ours: env!("CARGO_PKG_VERSION"),
            });
        }
        serde_json::from_value(probe).map_err(|e| corrupt(e.to_string()))
    }

    /// `-var name=value` arguments for the plan's variables; they go last, so they win.
    pub fn var_args(&self) -> Vec<String> {
        self.variables
            .iter()
            .map(|(k, v)| format!("{k}={}", v.value))
            .collect()
    }

    /// Refuse a non-sensitive variable given on this run with another value than the plan's.
    pub fn check_given(&self, path: &Path, raw: &Raw) -> Result<(), SavedPlanError> {
        for def in DEFS.iter().filter(|d| !d.sensitive) {
            let Some((given, origin)) = raw.given(def.name) else {
                continue;
            };
            let planned = self
                .variables
                .get(def.name)
                .map(|v| v.value.clone())
                .unwrap_or_else(|| def.default.unwrap_or_default().to_owned());
            if given != planned {
                return Err(SavedPlanError::Variable {
                    path: path.to_owned(),
                    name: def.name.to_owned(),
                    given,
                    origin,
                    planned,
                });
            }
        }
        Ok(())
    }

    /// Refuse a password other than the plan's, by fingerprint.
    pub fn check_secrets(&self, path: &Path, raw: &Raw) -> Result<(), SavedPlanError> {
        for (name, fp) in &self.sensitive_variables {
            let now = raw
                .given(name)
                .map(|(v, _)| crate::engine::fingerprint(&self.fingerprint_salt, &v));
            if now.as_deref() != Some(fp.as_str()) {
                return Err(SavedPlanError::Secret {
                    path: path.to_owned(),
                    name: name.clone(),
                });
            }
        }
        Ok(())
    }

    /// Refuse the plan unless the session is for its stack and its state is the one it was
    /// made from (same lineage, same serial). A stack with no state yet takes the plan's
    /// lineage and salt.
    pub fn check_state(&self, path: &Path, session: &mut Session) -> Result<(), SavedPlanError> {
        let s = &self.stack;
        let here_loc = (
            session.identity.account.as_str(),
            session
                .state
                .aws
                .as_ref()
                .map(|l| l.region.as_str())
                .unwrap_or_default(),
        );
        if (s.account_id.as_str(), s.region.as_str()) != here_loc {
            return Err(SavedPlanError::OtherStack {
                path: path.to_owned(),
                planned: format!("account {} in {}", s.account_id, s.region),
                here: format!("account {} in {}", here_loc.0, here_loc.1),
            });
        }
        let state = &mut session.state;
        let fresh = state.serial == 0 && state.resources.is_empty();
        if s.state_serial == 0 && fresh {
            state.lineage = s.state_lineage.clone();
            state.fingerprint_salt = self.fingerprint_salt.clone();
            return Ok(());
        }
        if s.state_serial == 0 {
            return Err(SavedPlanError::Stale {
                path: path.to_owned(),
                again: self.plan_again(path),
                why: format!(
                    "the stack had no state when it was made, and {} now holds one (serial {}: another apply or import ran)",
                    session.state_path.display(),
                    state.serial
                ),
            });
        }
        if state.lineage != s.state_lineage {
            return Err(SavedPlanError::OtherStack {
                path: path.to_owned(),
                planned: format!("the state of lineage {}", s.state_lineage),
                here: format!(
                    "{} (lineage {})",
                    session.state_path.display(),
                    state.lineage
                ),
            });
        }
        if state.serial != s.state_serial {
            return Err(SavedPlanError::Stale {
                path: path.to_owned(),
                again: self.plan_again(path),
                why: format!(
                    "the state changed since it was made (serial {} then, {} now: another apply, import or state command ran)",
                    s.state_serial, state.serial
                ),
            });
        }
        Ok(())
    }

    /// Refuse `plan` (made again now) unless it makes the saved plan's changes.
    pub fn check_same(&self, path: &Path, plan: &Plan) -> Result<(), SavedPlanError> {
        // What AWS changes by itself (a database's status, its CA certificate) is no part of
        // the promise: the plan does not turn stale when only that moved.
        let transient: BTreeMap<&str, &[&str]> = plan
            .changes
            .iter()
            .map(|c| (c.kind.type_name(), c.kind.transient()))
            .collect();
        let essence = |c: &J| {
            let type_name = c["type"].as_str().unwrap_or_default();
            json_plan::essence(c, transient.get(type_name).copied().unwrap_or_default())
        };
        let now: BTreeMap<String, J> = json_plan::resource_changes(plan)
            .iter()
            .map(|c| {
                (
                    c["address"].as_str().unwrap_or_default().to_owned(),
                    essence(c),
                )
            })
            .collect();
        let then: BTreeMap<String, J> = self
            .resource_changes
            .iter()
            .map(|c| {
                (
                    c["address"].as_str().unwrap_or_default().to_owned(),
                    essence(c),
                )
            })
            .collect();
        let differ: Vec<&str> = now
            .keys()
            .chain(then.keys())
            .filter(|a| now.get(*a) != then.get(*a))
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if differ.is_empty() {
            return Ok(());
        }
        Err(SavedPlanError::Drift {
            path: path.to_owned(),
            addresses: differ.join(", "),
            again: self.plan_again(path),
        })
    }
}

/// A word as a shell reads it back: quoted when it holds anything but plain characters.
fn shell_word(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c));
    if plain {
        w.to_owned()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}
