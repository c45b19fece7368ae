//! The tags every taggable resource of the stack carries, so a listing can find what is ours.

use std::collections::BTreeMap;

use serde_json::Value as J;

/// Tag keys stackctl owns; `ManagedBy` matches the convention most AWS shops already filter on.
pub const MANAGED_BY: &str = "ManagedBy";
pub const PROJECT: &str = "stackctl:project";
pub const ENVIRONMENT: &str = "stackctl:environment";

/// A resource's tags, sorted by key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tags(pub BTreeMap<String, String>);

impl Tags {
    /// The three stack tags, plus `Name` where the console shows it (EC2, EFS).
    pub fn stack(project: &str, environment: &str) -> Self {
        let mut m = BTreeMap::new();
        m.insert(MANAGED_BY.to_owned(), "stackctl".to_owned());
        m.insert(PROJECT.to_owned(), project.to_owned());
        m.insert(ENVIRONMENT.to_owned(), environment.to_owned());
        Tags(m)
    }

    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    pub fn to_json(&self) -> J {
        crate::value::string_map(self.0.clone())
    }

    /// Parse tags from an attribute value; anything that is not a string map reads as no tags.
    pub fn from_json(v: Option<&J>) -> Self {
        let mut m = BTreeMap::new();
        if let Some(obj) = v.and_then(J::as_object) {
            for (k, v) in obj {
                if let Some(s) = v.as_str() {
                    m.insert(k.clone(), s.to_owned());
                }
            }
        }
        Tags(m)
    }

    /// Keep only tags AWS did not add itself (`aws:` keys), so a read compares like with like.
    pub fn from_pairs<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        Tags(
            pairs
                .into_iter()
                .filter(|(k, _)| !k.starts_with("aws:"))
                .collect(),
        )
    }

    /// What to set and what to remove to go from `self` to `want`.
    pub fn delta(&self, want: &Tags) -> (BTreeMap<String, String>, Vec<String>) {
        let set = want
            .0
            .iter()
            .filter(|(k, v)| self.0.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let remove = self
            .0
            .keys()
            .filter(|k| !want.0.contains_key(*k))
            .cloned()
            .collect();
        (set, remove)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_sets_changed_and_removes_extra() {
        let have = Tags::stack("p", "dev").with("old", "1").with("Name", "a");
        let want = Tags::stack("p", "prod").with("Name", "a");
        let (set, remove) = have.delta(&want);
        assert_eq!(set.len(), 1);
        assert_eq!(set.get(ENVIRONMENT).map(String::as_str), Some("prod"));
        assert_eq!(remove, vec!["old".to_owned()]);
    }
}
