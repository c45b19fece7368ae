//! Where each value came from (a var file, `-var`, the environment or the default), and how an
//! error tells the user to fix it there.

use std::fmt;
use std::path::PathBuf;

use super::declare::Type;

/// Where a value came from, so an error can point at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Flag,
    Env(String),
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Flag => f.write_str("-var"),
            Origin::Env(name) => write!(f, "environment variable {name}"),
            Origin::Default => f.write_str("default"),
        }
    }
}

impl Origin {
    /// `path: ` / `-var: ` before a message; nothing for a default, which has no place to point
    /// at.
    pub(super) fn prefix(&self) -> String {
        match self {
            Origin::Default => String::new(),
            other => format!("{other}: "),
        }
    }

    /// Where to fix the value of `key`.
    pub(super) fn fix_hint(&self, key: &str) -> String {
        match self {
            Origin::File(p) => format!("fix `{key}` in {}", p.display()),
            Origin::Flag => format!("fix the -var {key}=... argument"),
            Origin::Env(name) => format!("fix the environment variable {name}"),
            Origin::Default => format!(
                "the default of `{key}` does not fit the other values: set it in a var file or with -var {key}=..."
            ),
        }
    }

    /// How to write a value of this type where the bad one came from.
    pub(super) fn example(&self, key: &str, ty: Type) -> String {
        let value = match ty {
            Type::Number => "3",
            Type::Bool => "true",
            Type::String => "\"...\"",
        };
        match self {
            Origin::File(p) => format!("write `{key} = {value}` in {}", p.display()),
            Origin::Flag => format!("write -var {key}={}", value.trim_matches('"')),
            Origin::Env(name) => format!("set {name}={}", value.trim_matches('"')),
            Origin::Default => format!("set {key} with -var {key}=..."),
        }
    }
}
