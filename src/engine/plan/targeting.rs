//! Targeting: Terraform's `-target` and `-replace`, checked against the stack's addresses, and
//! a plan narrowed to the targets and what they need.

use std::collections::HashSet;

use super::types::Change;
use crate::engine::graph::Graph;
use crate::engine::state::State;
use crate::engine::Config;

/// What a plan is asked beyond the configuration: Terraform's `-target` and `-replace`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Targeting {
    /// Only these resources (addresses or module prefixes) and what they need.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Replace these resources even if nothing forces it.
    #[serde(default)]
    pub replace: Vec<String>,
}

impl Targeting {
    /// Every `-target` must name something of the configuration or the state, and every
    /// `-replace` a resource of the configuration: a typo must not plan the whole stack, or
    /// nothing, in silence. The first flag and address that name nothing, if any.
    pub fn unknown(&self, config: &Config, state: &State) -> Option<(&'static str, String)> {
        let known: Vec<&str> = config
            .specs
            .iter()
            .map(|s| s.address.as_str())
            .chain(state.resources.keys().map(String::as_str))
            .collect();
        if let Some(t) = self
            .targets
            .iter()
            .find(|t| !known.iter().any(|a| under(a, t)))
        {
            return Some(("target", t.clone()));
        }
        self.replace
            .iter()
            .find(|r| !config.specs.iter().any(|s| &s.address == *r))
            .map(|r| ("replace", r.clone()))
    }

    /// Keep the changes of the targets and of what they need (in `graph`, the configuration's,
    /// transitively); a delete is kept when it is targeted itself. What depends on a target is
    /// left alone.
    pub fn narrow(&self, changes: Vec<Change>, graph: &Graph) -> Vec<Change> {
        let mut keep: HashSet<String> = HashSet::new();
        let mut todo: Vec<String> = changes
            .iter()
            .map(|c| c.address.clone())
            .filter(|a| self.targets.iter().any(|t| under(a, t)))
            .collect();
        while let Some(a) = todo.pop() {
            if keep.insert(a.clone()) {
                if let Some(needs) = graph.needs.get(&a) {
                    todo.extend(needs.iter().cloned());
                }
            }
        }
        changes
            .into_iter()
            .filter(|c| keep.contains(&c.address))
            .collect()
    }
}

/// Whether `address` is `filter` or inside it (`module.rds` holds its resources).
fn under(address: &str, filter: &str) -> bool {
    stackctl_contract::Address::parse(address).map_or(address == filter, |a| a.is_under(filter))
}
