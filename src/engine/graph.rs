//! The dependency graph: topological order and the transitive dependents of a node.

use std::collections::{BTreeMap, BTreeSet};

/// A directed graph `node -> the nodes it needs`, over string addresses.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub needs: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Debug, thiserror::Error)]
#[error("dependency cycle between {0}")]
pub struct Cycle(pub String);

impl Graph {
    pub fn add(&mut self, node: &str, needs: impl IntoIterator<Item = String>) {
        self.needs.entry(node.to_owned()).or_default().extend(needs);
    }

    /// Nodes in an order where each comes after everything it needs (that is in the graph);
    /// ties broken by address so the order, and the plan output, is stable.
    pub fn topo_order(&self) -> Result<Vec<String>, Cycle> {
        let mut done: BTreeSet<&str> = BTreeSet::new();
        let mut order = Vec::with_capacity(self.needs.len());
        while order.len() < self.needs.len() {
            let ready: Vec<&String> = self
                .needs
                .iter()
                .filter(|(n, needs)| {
                    !done.contains(n.as_str())
                        && needs
                            .iter()
                            .all(|d| done.contains(d.as_str()) || !self.needs.contains_key(d))
                })
                .map(|(n, _)| n)
                .collect();
            if ready.is_empty() {
                let stuck: Vec<&str> = self
                    .needs
                    .keys()
                    .map(String::as_str)
                    .filter(|n| !done.contains(n))
                    .collect();
                return Err(Cycle(stuck.join(", ")));
            }
            for n in ready {
                done.insert(n);
                order.push(n.clone());
            }
        }
        Ok(order)
    }

    /// Every node that needs `node`, directly or not.
    pub fn dependents(&self, node: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut frontier = vec![node.to_owned()];
        while let Some(n) = frontier.pop() {
            for (m, needs) in &self.needs {
                if needs.contains(&n) && out.insert(m.clone()) {
                    frontier.push(m.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(edges: &[(&str, &[&str])]) -> Graph {
        let mut g = Graph::default();
        for (n, needs) in edges {
            g.add(n, needs.iter().map(|s| s.to_string()));
        }
        g
    }

    #[test]
    fn order_respects_needs_and_ignores_outside_nodes() {
        let g = g(&[("c", &["b"]), ("b", &["a", "outside"]), ("a", &[])]);
        assert_eq!(g.topo_order().unwrap(), vec!["a", "b", "c"]);
    }

    #[test]
    fn cycles_are_reported() {
        let g = g(&[("a", &["b"]), ("b", &["a"])]);
        assert!(g.topo_order().unwrap_err().to_string().contains("a, b"));
    }

    #[test]
    fn dependents_are_transitive() {
        let g = g(&[("c", &["b"]), ("b", &["a"]), ("a", &[]), ("d", &[])]);
        assert_eq!(
            g.dependents("a").into_iter().collect::<Vec<_>>(),
            vec!["b", "c"]
        );
    }
}
