//! Checking: the gathered values typed into [`Vars`] and held to their rules, every bad value
//! reported at once, in the declarations' order.

use super::declarations::{is_sensitive, Vars, DEFS};
use super::declare::{Reader, Type};
use super::errors::VarError;
use super::load::Raw;
use super::origin::Origin;
use super::rules::prefix_fits;

impl Raw {
    /// Type and check every variable, reporting every bad one at once.
    pub fn check(&self) -> Result<Vars, VarError> {
        // A missing or mistyped value gets a stand-in so the other checks still run; the rules
        // of its key are dropped below, since its own error says more.
        let mut typing = Typing {
            raw: self,
            errors: Vec::new(),
        };
        let vars = Vars::read(&mut typing);
        let mut errors = typing.errors;
        let failed: Vec<String> = errors
            .iter()
            .filter_map(|e| e.key().map(str::to_owned))
            .collect();
        let origin = |key: &str| {
            self.values
                .get(key)
                .map_or(Origin::Default, |(_, o)| o.clone())
        };
        // Two variables together: every AWS name starts with both.
        let prefix = vars.name_prefix();
        if !prefix_fits(&prefix) {
            errors.push(VarError::Prefix {
                prefix,
                project: origin("project_name"),
                environment: origin("environment"),
            });
        }
        // One error per key, with all its broken rules.
        for (key, rules) in vars.broken() {
            if rules.is_empty() || failed.iter().any(|f| f == key) {
                continue;
            }
            errors.push(VarError::Invalid {
                origin: origin(key),
                key: key.to_owned(),
                rule: rules.join(", and "),
            });
        }
        // In the table's order, whatever check found them.
        errors.sort_by_key(|e| {
            e.key()
                .and_then(|k| DEFS.iter().position(|d| d.name == k))
                .unwrap_or(usize::MAX)
        });
        VarError::all(errors)?;
        Ok(vars)
    }
}

/// The gathered values read by type, with the error of each missing or mistyped one.
struct Typing<'a> {
    raw: &'a Raw,
    errors: Vec<VarError>,
}

impl Typing<'_> {
    /// The value of `key` and where it came from; `None`, with the error, if it is required
    /// and has no value.
    fn get(&mut self, key: &str) -> Option<(String, Origin)> {
        let got = self.raw.get(key);
        if got.is_none() {
            self.errors.push(VarError::Missing {
                key: key.to_owned(),
            });
        }
        got
    }
}

impl Reader for Typing<'_> {
    /// A string variable; an empty stand-in if it is missing.
    fn string(&mut self, key: &str) -> String {
        self.get(key).map(|(v, _)| v).unwrap_or_default()
    }

    /// A whole-number variable; a stand-in 0 if it is missing or not a number.
    fn number(&mut self, key: &str) -> i64 {
        let Some((v, origin)) = self.get(key) else {
            return 0;
        };
        v.trim().parse::<i64>().unwrap_or_else(|_| {
            self.errors.push(VarError::Type {
                got: if is_sensitive(key) {
                    "a value of type string (not shown: sensitive)".to_owned()
                } else {
                    format!("{v:?}")
                },
                origin,
                key: key.to_owned(),
                want: Type::Number,
            });
            0
        })
    }

    /// A boolean variable: `true` or `false`; a stand-in `false` (the safe choice: nothing
    /// restarts) if it is neither.
    fn boolean(&mut self, key: &str) -> bool {
        let Some((v, origin)) = self.get(key) else {
            return false;
        };
        match v.trim() {
            "true" => true,
            "false" => false,
            _ => {
                self.errors.push(VarError::Type {
                    got: format!("{v:?}"),
                    origin,
                    key: key.to_owned(),
                    want: Type::Bool,
                });
                false
            }
        }
    }
}
