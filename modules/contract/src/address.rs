//! Resource addresses (`module.efs.aws_efs_mount_target.main["eu-west-3a"]`): parsing and
//! display in one place.
//!
//! The state, the plan and the graph key their maps by the canonical string (that is what the
//! state file holds and what users type); anything that needs a part of an address (its type,
//! its name, whether it lies under a filter such as `module.rds`) parses it here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A resource's address, as Terraform writes it for a resource inside a module.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    /// The module's name: `rds` in `module.rds.aws_db_instance.main`.
    pub module: String,
    /// The Terraform type: `aws_db_instance`.
    pub type_name: String,
    /// The resource's name within its module: `main`.
    pub name: String,
    /// The instance key of a resource with several instances (`for_each`): `eu-west-3a`.
    pub key: Option<String>,
}

/// Why a string is not an address; the message says what one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a resource address such as module.rds.aws_db_instance.main")]
pub struct BadAddress {
    pub input: String,
}

impl Address {
    pub fn new(module: &str, type_name: &str, name: &str) -> Address {
        Address {
            module: module.to_owned(),
            type_name: type_name.to_owned(),
            name: name.to_owned(),
            key: None,
        }
    }

    /// The same resource's instance under `key`.
    pub fn with_key(mut self, key: impl Into<String>) -> Address {
        self.key = Some(key.into());
        self
    }

    pub fn parse(s: &str) -> Result<Address, BadAddress> {
        let bad = || BadAddress {
            input: s.to_owned(),
        };
        let (base, key) = match s.find('[') {
            Some(i) => {
                let inner = s[i..]
                    .strip_prefix("[\"")
                    .and_then(|r| r.strip_suffix("\"]"))
                    .filter(|k| !k.is_empty() && !k.contains('"'))
                    .ok_or_else(bad)?;
                (&s[..i], Some(inner.to_owned()))
            }
            None => (s, None),
        };
        let parts: Vec<&str> = base.split('.').collect();
        let word = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        match parts.as_slice() {
            ["module", module, type_name, name]
                if word(module) && word(type_name) && word(name) =>
            {
                Ok(Address {
                    module: (*module).to_owned(),
                    type_name: (*type_name).to_owned(),
                    name: (*name).to_owned(),
                    key,
                })
            }
            _ => Err(bad()),
        }
    }

    /// The block header of `terraform state show` and of the plan:
    /// `resource "aws_db_instance" "main"` (the key stays in the comment line above).
    pub fn block(&self) -> String {
        format!("resource \"{}\" \"{}\"", self.type_name, self.name)
    }

    /// Whether this address is `filter` or lies inside it, as Terraform's `state list`
    /// filters: `module.rds` holds every resource of that module, `module.efs.aws_efs_mount_target.main`
    /// holds each of its keyed instances.
    pub fn is_under(&self, filter: &str) -> bool {
        let full = self.to_string();
        full == filter
            || full
                .strip_prefix(filter)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "module.{}.{}.{}", self.module, self.type_name, self.name)?;
        if let Some(k) = &self.key {
            write!(f, "[\"{k}\"]")?;
        }
        Ok(())
    }
}

impl FromStr for Address {
    type Err = BadAddress;
    fn from_str(s: &str) -> Result<Address, BadAddress> {
        Address::parse(s)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let s = String::deserialize(d)?;
        Address::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_round_trip() {
        for s in [
            "module.rds.aws_db_instance.main",
            "module.efs.aws_efs_mount_target.main[\"eu-west-3a\"]",
            "module.ecs.aws_iam_role_policy_attachment.task_execution",
        ] {
            let a = Address::parse(s).unwrap();
            assert_eq!(a.to_string(), s);
        }
        let a: Address = "module.efs.aws_efs_mount_target.main[\"eu-west-3a\"]"
            .parse()
            .unwrap();
        assert_eq!(
            a,
            Address::new("efs", "aws_efs_mount_target", "main").with_key("eu-west-3a")
        );
        assert_eq!(a.block(), "resource \"aws_efs_mount_target\" \"main\"");
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for s in [
            "",
            "aws_db_instance.main",
            "module.rds",
            "module.rds.aws_db_instance.main.extra",
            "module.rds.aws_db_instance.",
            "module.efs.aws_efs_mount_target.main[eu-west-3a]",
            "module.efs.aws_efs_mount_target.main[\"\"]",
        ] {
            let err = Address::parse(s).unwrap_err();
            assert!(err.to_string().contains("module.rds.aws_db_instance.main"));
        }
    }

    #[test]
    fn filters_hold_what_is_inside_them() {
        let mt = Address::parse("module.efs.aws_efs_mount_target.main[\"eu-west-3a\"]").unwrap();
        assert!(mt.is_under("module.efs"));
        assert!(mt.is_under("module.efs.aws_efs_mount_target.main"));
        assert!(mt.is_under("module.efs.aws_efs_mount_target.main[\"eu-west-3a\"]"));
        assert!(!mt.is_under("module.ef"));
        assert!(!mt.is_under("module.efs.aws_efs_mount_target.mai"));
    }

    #[test]
    fn serializes_as_its_string() {
        let a = Address::new("alb", "aws_lb", "main");
        let j = serde_json::to_string(&a).unwrap();
        assert_eq!(j, "\"module.alb.aws_lb.main\"");
        assert_eq!(serde_json::from_str::<Address>(&j).unwrap(), a);
        assert!(serde_json::from_str::<Address>("\"nope\"").is_err());
    }
}
