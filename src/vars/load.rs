//! Loading: values gathered from var files, `-var` and the environment, each with its origin,
//! before typing and checks (check.rs). A var file's `[backend]` table is not a variable: the
//! backend (src/engine/backend) reads it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::declarations::{is_sensitive, DEFS};
use super::declare::{Def, Type};
use super::errors::VarError;
use super::origin::Origin;
use crate::engine::backend::BackendConfig;

/// A value for a type error: its TOML type, and the value itself unless `key` is sensitive.
fn describe(key: &str, value: &toml::Value) -> String {
    if is_sensitive(key) {
        format!(
            "a value of type {} (not shown: sensitive)",
            value.type_str()
        )
    } else {
        format!("{} {value}", value.type_str())
    }
}

/// A `-var` argument without `=`, as it may be quoted back: if it starts with a sensitive
/// variable's name (`db_password:xyz`), what follows may be the password.
fn shown_flag(arg: &str) -> String {
    DEFS.iter()
        .filter(|d| d.sensitive)
        .find(|d| arg.trim_start().starts_with(d.name) && arg.trim() != d.name)
        .map(|d| format!("{}...", d.name))
        .unwrap_or_else(|| arg.to_owned())
}

/// 1-based line and column of byte `offset` in `text`, and the bare key at the start of that
/// line, if any, to name in a syntax error without quoting the line.
fn locate(text: &str, offset: usize) -> (usize, usize, Option<String>) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text
        .get(line_start..offset)
        .map_or(1, |s| s.chars().count() + 1);
    let line_text = text[line_start..].lines().next().unwrap_or_default();
    let key = line_text.split_once('=').and_then(|(k, _)| {
        let k = k.trim();
        (!k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .then(|| k.to_owned())
    });
    (line, column, key)
}

/// Raw values gathered from all sources, before typing and checks.
#[derive(Default)]
pub struct Raw {
    pub(super) values: BTreeMap<String, (String, Origin)>,
    /// The `[backend]` table of the last var file that has one: where the state is kept, not
    /// a variable of the stack.
    pub backend: Option<BackendConfig>,
}

impl Raw {
    /// Gather values. Precedence is Terraform's: environment (`STACKCTL_VAR_name`) lowest, then
    /// var files in the order given, then `-var` flags, the last one winning. Every unreadable
    /// file, unknown name, wrong type and malformed `-var` is reported together.
    pub fn gather(
        files: &[PathBuf],
        flags: &[String],
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Raw, VarError> {
        let mut raw = Raw::default();
        let mut errors = Vec::new();
        // Sorted, so that errors come in the same order on every run.
        let mut env: Vec<(String, String)> = env
            .filter(|(k, _)| k.starts_with("STACKCTL_VAR_"))
            .collect();
        env.sort();
        for (k, v) in env {
            let origin = Origin::Env(k.clone());
            match lookup(&k["STACKCTL_VAR_".len()..], &origin) {
                Ok(def) => {
                    raw.values.insert(def.name.to_owned(), (v, origin));
                }
                Err(e) => errors.push(e),
            }
        }
        for path in files {
            raw.load_file(path, &mut errors);
        }
        for arg in flags {
            let Some((k, v)) = arg.split_once('=') else {
                errors.push(VarError::Flag {
                    arg: shown_flag(arg),
                });
                continue;
            };
            match lookup(k.trim(), &Origin::Flag) {
                Ok(def) => {
                    raw.values
                        .insert(def.name.to_owned(), (v.to_owned(), Origin::Flag));
                }
                Err(e) => errors.push(e),
            }
        }
        VarError::all(errors)?;
        Ok(raw)
    }

    /// Load one var file, adding what is wrong with it to `errors`. A file that cannot be read
    /// or parsed is one error; otherwise every bad key in it is one.
    fn load_file(&mut self, path: &Path, errors: &mut Vec<VarError>) {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                errors.push(VarError::Read {
                    path: path.to_owned(),
                    error,
                });
                return;
            }
        };
        let table: toml::Table = match text.parse() {
            Ok(table) => table,
            Err(e) => {
                let e: toml::de::Error = e;
                let (line, column, key) = locate(&text, e.span().map_or(0, |s| s.start));
                errors.push(VarError::Syntax {
                    path: path.to_owned(),
                    line,
                    column,
                    key,
                    message: e.message().trim_end().to_owned(),
                });
                return;
            }
        };
        let origin = Origin::File(path.to_owned());
        for (key, value) in table {
            if key == "backend" {
                match BackendConfig::parse(path, &value) {
                    Ok(config) => self.backend = Some(config),
                    Err(e) => errors.extend(e.into_iter().map(VarError::from)),
                }
                continue;
            }
            let def = match lookup(&key, &origin) {
                Ok(def) => def,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            // A number for a string is fine (`ecs_cpu = 256`); a float, a boolean, an array or
            // a table is not, nor a float for a whole number (`desired_count = 1.5`). A boolean
            // takes `true`, `false`, or those words quoted, as `-var` gives them.
            let text = match (&value, def.ty) {
                (toml::Value::String(s), _) => s.clone(),
                (toml::Value::Integer(i), Type::String | Type::Number) => i.to_string(),
                (toml::Value::Boolean(b), Type::Bool) => b.to_string(),
                (other, _) => {
                    errors.push(VarError::Type {
                        got: describe(&key, other),
                        origin: origin.clone(),
                        key,
                        want: def.ty,
                    });
                    continue;
                }
            };
            self.values.insert(key, (text, origin.clone()));
        }
    }

    /// The project and environment only, for commands that need no passwords (destroy, output)
    /// to find the state file.
    pub fn project_env(&self) -> (String, String) {
        let get = |k: &str| {
            self.values
                .get(k)
                .map(|(v, _)| v.clone())
                .unwrap_or_else(|| default_of(k))
        };
        (get("project_name"), get("environment"))
    }

    /// The value of `key` and where it came from, if a var file, a flag or the environment set
    /// it (a default is not "given").
    pub fn given(&self, key: &str) -> Option<(String, String)> {
        self.values
            .get(key)
            .map(|(v, origin)| (v.clone(), origin.to_string()))
    }

    pub fn region(&self) -> String {
        self.values
            .get("aws_region")
            .map(|(v, _)| v.clone())
            .unwrap_or_else(|| default_of("aws_region"))
    }

    /// The value of `key` and where it came from, its default if it has one; `None` if it is
    /// required and has no value.
    pub(super) fn get(&self, key: &str) -> Option<(String, Origin)> {
        match self.values.get(key) {
            Some(v) => Some(v.clone()),
            None => DEFS
                .iter()
                .find(|d| d.name == key)
                .and_then(|d| d.default)
                .map(|d| (d.to_owned(), Origin::Default)),
        }
    }
}

fn default_of(key: &str) -> String {
    DEFS.iter()
        .find(|d| d.name == key)
        .and_then(|d| d.default)
        .unwrap_or_default()
        .to_owned()
}

fn lookup(key: &str, origin: &Origin) -> Result<&'static Def, VarError> {
    DEFS.iter()
        .find(|d| d.name == key)
        .ok_or_else(|| VarError::Unknown {
            origin: origin.clone(),
            key: key.to_owned(),
            suggestion: DEFS
                .iter()
                .map(|d| (strsim::jaro_winkler(key, d.name), d.name))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, n)| n.to_owned()),
        })
}
