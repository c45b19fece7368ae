//! The errors of bad variable input: each names the variable, where its value came from and
//! what to do, and never shows a sensitive value.

use std::path::PathBuf;

use super::declarations::DEFS;
use super::declare::Type;
use super::origin::Origin;
use super::rules::MAX_PREFIX;
use crate::engine::backend::BackendError;

/// A bad variable input, with where it came from and what to do. No message shows the value of
/// a sensitive variable.
#[derive(Debug, thiserror::Error)]
pub enum VarError {
    #[error("cannot read var file {path}: {error}\n  hint: check the path; var files are TOML, for example examples/dev.toml")]
    Read {
        path: PathBuf,
        /// In the message; not named `source`, which `{:#}` would print a second time.
        error: std::io::Error,
    },
    /// The source line is not quoted back: it may hold a password.
    #[error("{path}, line {line}, column {column}{}: not valid TOML: {message}\n  hint: write one `name = value` per line, strings in double quotes, numbers bare, as in examples/dev.toml",
        key.as_ref().map(|k| format!(" (variable `{k}`)")).unwrap_or_default())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        key: Option<String>,
        message: String,
    },
    #[error("{origin}: unknown variable `{key}`{}\n  hint: {}",
        suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default(),
        suggestion.as_ref().map(|s| format!("rename it to `{s}`")).unwrap_or_else(known_names))]
    Unknown {
        origin: Origin,
        key: String,
        suggestion: Option<String>,
    },
    #[error("{}variable `{key}` must be a {}, got {got}\n  hint: {}", origin.prefix(), type_name(*want), origin.example(key, *want))]
    Type {
        origin: Origin,
        key: String,
        want: Type,
        /// The value's type, and the value itself unless the variable is sensitive.
        got: String,
    },
    #[error("-var {arg:?} is not KEY=VALUE\n  hint: write -var desired_count=3")]
    Flag { arg: String },
    #[error("variable `{key}` is required and has no value\n  hint: set it with -var {key}=..., or the environment variable STACKCTL_VAR_{key} (keep passwords out of var files)")]
    Missing { key: String },
    /// `rule` is one or more rules of this key, joined; never the value of a sensitive key.
    #[error("{}variable `{key}` {rule}\n  hint: {}{}", origin.prefix(), origin.fix_hint(key), more_hint(key))]
    Invalid {
        origin: Origin,
        key: String,
        rule: String,
    },
    /// Two variables together: each is valid alone, but every AWS name starts with both.
    #[error("variables `project_name` and `environment` make the name prefix {prefix:?}, {} characters; at most {MAX_PREFIX} fit in the load balancer name `{prefix}-alb` (ELBv2 allows 32)\n  hint: shorten project_name ({project}) or environment ({environment}): every AWS name starts with project_name-environment", prefix.chars().count())]
    Prefix {
        prefix: String,
        /// Where each of the two values came from.
        project: Origin,
        environment: Origin,
    },
    /// A bad `[backend]` table: the backend (src/engine/backend) reads it and says what is
    /// wrong; it is reported with the variables' errors.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Several of the errors above, all reported by one run rather than one per run.
    #[error("{}", list(.0))]
    Many(Vec<VarError>),
}

impl VarError {
    /// `Ok` for no error, the error itself for one (its message unchanged), `Many` for more.
    pub(super) fn all(errors: Vec<VarError>) -> Result<(), VarError> {
        let mut flat = Vec::new();
        for e in errors {
            match e {
                VarError::Many(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        match flat.len() {
            0 => Ok(()),
            1 => Err(flat.remove(0)),
            _ => Err(VarError::Many(flat)),
        }
    }

    /// The variable the error is about, if it is about one, to sort and de-duplicate.
    pub(super) fn key(&self) -> Option<&str> {
        match self {
            VarError::Unknown { key, .. }
            | VarError::Type { key, .. }
            | VarError::Missing { key }
            | VarError::Invalid { key, .. } => Some(key),
            VarError::Syntax { key, .. } => key.as_deref(),
            VarError::Prefix { .. } => Some("project_name"),
            VarError::Read { .. }
            | VarError::Flag { .. }
            | VarError::Backend(_)
            | VarError::Many(_) => None,
        }
    }
}

/// Each error with its own hint, a blank line between them, and the count last.
fn list(errors: &[VarError]) -> String {
    let each: Vec<String> = errors.iter().map(ToString::to_string).collect();
    format!(
        "{}\n\n{} problems in the variables",
        each.join("\n\n"),
        errors.len()
    )
}

/// What a key's hint says beyond where to fix it.
fn more_hint(key: &str) -> &'static str {
    match key {
        "aws_region" => "; README.md's table of variables lists the regions this stackctl knows (`stackctl validate` checks against the same list); a region AWS opened after this release needs a newer stackctl",
        _ => "",
    }
}

fn type_name(ty: Type) -> &'static str {
    match ty {
        Type::Number => "whole number",
        Type::String => "string",
        Type::Bool => "boolean (true or false)",
    }
}

fn known_names() -> String {
    let names: Vec<&str> = DEFS.iter().map(|d| d.name).collect();
    format!("the variables are {}", names.join(", "))
}
