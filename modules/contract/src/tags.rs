//! The tags every taggable resource of the stack carries, so a listing can find what is ours.

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::Value as J;

use crate::error::ResourceError;

/// Tag keys stackctl owns; `ManagedBy` matches the convention most AWS shops already filter on.
pub const MANAGED_BY: &str = "ManagedBy";
pub const PROJECT: &str = "stackctl:project";
pub const ENVIRONMENT: &str = "stackctl:environment";

/// A resource's tags, sorted by key; an argument of every taggable kind (a JSON string map).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
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

    /// Tags as an SDK lists them (each SDK has its own `Tag` type, with optional key and
    /// value), without AWS's own `aws:` keys.
    pub fn from_sdk<'a, I>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
    {
        Self::from_pairs(pairs.into_iter().map(|(k, v)| {
            (
                k.unwrap_or_default().to_owned(),
                v.unwrap_or_default().to_owned(),
            )
        }))
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

/// A service's two tag calls, implemented once per AWS service (each has its own names, id
/// parameter and `Tag` type); [`sync_tags`](TagApi::sync_tags) moves a resource's tags with
/// them the same way for every service.
pub trait TagApi: Sync {
    /// Add or change `set` on resource `id` (`TagResource` or the service's name for it).
    fn tag(
        &self,
        id: &str,
        set: BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), ResourceError>> + Send;

    /// Remove the tags with these keys from resource `id` (`UntagResource` or its like).
    fn untag(
        &self,
        id: &str,
        keys: Vec<String>,
    ) -> impl Future<Output = Result<(), ResourceError>> + Send;

    /// Go from `have` (the tags resource `id` has) to `want`: first what to add or change,
    /// then what to remove; neither call is made with nothing to do, as AWS refuses empty
    /// lists.
    fn sync_tags(
        &self,
        id: &str,
        have: &Tags,
        want: &Tags,
    ) -> impl Future<Output = Result<(), ResourceError>> + Send {
        let (to_set, to_remove) = have.delta(want);
        async move {
            if !to_set.is_empty() {
                self.tag(id, to_set).await?;
            }
            if !to_remove.is_empty() {
                self.untag(id, to_remove).await?;
            }
            Ok(())
        }
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

    /// Records the calls it gets.
    struct Recorder(std::sync::Mutex<Vec<String>>);

    impl TagApi for Recorder {
        async fn tag(&self, id: &str, set: BTreeMap<String, String>) -> Result<(), ResourceError> {
            let keys: Vec<_> = set.into_keys().collect();
            self.0.lock().unwrap().push(format!("tag {id} {keys:?}"));
            Ok(())
        }

        async fn untag(&self, id: &str, keys: Vec<String>) -> Result<(), ResourceError> {
            self.0.lock().unwrap().push(format!("untag {id} {keys:?}"));
            Ok(())
        }
    }

    #[test]
    fn sync_tags_sets_then_removes_and_skips_empty_calls() {
        let api = Recorder(std::sync::Mutex::new(Vec::new()));
        let have = Tags::stack("p", "dev").with("old", "1");
        let want = Tags::stack("p", "prod");
        futures::executor::block_on(api.sync_tags("r", &have, &want)).unwrap();
        futures::executor::block_on(api.sync_tags("r", &want, &want)).unwrap();
        assert_eq!(
            api.0.into_inner().unwrap(),
            [
                format!("tag r [{ENVIRONMENT:?}]"),
                "untag r [\"old\"]".to_owned()
            ]
        );
    }
}
