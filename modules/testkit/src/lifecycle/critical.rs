//! The critical path of a stack under a profile: the longest chain of real-AWS waits through
//! its dependency graph, for an apply from empty or a destroy.

use std::collections::BTreeMap;

use super::profile::Profile;

/// The longest chain of real-AWS waits through a stack's dependency graph: what an apply or a
/// destroy cannot beat, however it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct CriticalPath {
    /// Real-AWS seconds.
    pub seconds: f64,
    /// The chain, first to last: address and its own seconds.
    pub path: Vec<(String, f64)>,
    /// Every wait's seconds added up (what polls are counted against).
    pub waiting: f64,
}

/// A stack's graph: address -> (resource type, addresses it depends on).
pub type Graph = BTreeMap<String, (String, Vec<String>)>;

impl Profile {
    /// What real AWS makes `apply` wait for after creating a resource of this type, in real
    /// seconds: until it is usable by what depends on it. A service counts until it is steady:
    /// apply waits for a healthy deployment (Terraform's `wait_for_steady_state = true`).
    pub fn create_seconds(&self, type_name: &str) -> f64 {
        match type_name {
            "aws_db_instance" => self.seconds("rds_create"),
            "aws_lb" => self.seconds("alb_create"),
            "aws_efs_file_system" => self.seconds("efs_create"),
            "aws_efs_mount_target" => self.seconds("mount_target_create"),
            "aws_ecs_service" => self.seconds("ecs_service_steady"),
            _ => 0.0,
        }
    }

    /// What real AWS makes `destroy` wait for when deleting this resource, once everything
    /// that depends on it is gone.
    pub fn destroy_seconds(&self, address: &str, graph: &Graph) -> f64 {
        let Some((type_name, _)) = graph.get(address) else {
            return 0.0;
        };
        match type_name.as_str() {
            "aws_ecs_service" => self.seconds("ecs_service_drain"),
            "aws_db_instance" => self.seconds("rds_delete"),
            "aws_efs_mount_target" => self.seconds("mount_target_delete"),
            "aws_efs_file_system" => self.seconds("efs_delete"),
            _ => 0.0,
        }
    }

    /// The services whose tasks' network interfaces hold this security group after the
    /// service has drained: the group cannot go before `eni_release` after each of them,
    /// whatever else it waits for (the clock starts with the service, not with the group).
    fn held_by<'g>(&self, address: &str, graph: &'g Graph) -> Vec<&'g String> {
        match graph.get(address) {
            Some((t, _)) if t == "aws_security_group" => graph
                .iter()
                .filter(|(_, (t, deps))| {
                    t == "aws_ecs_service" && deps.iter().any(|d| d == address)
                })
                .map(|(a, _)| a)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The critical path of an apply from empty (each resource after what it depends on) or of
    /// a destroy (each resource after what depends on it), from this profile and the graph
    /// alone.
    pub fn critical_path(&self, graph: &Graph, destroy: bool) -> CriticalPath {
        // Predecessors: what must be done before a resource starts.
        let before = |addr: &str| -> Vec<String> {
            if destroy {
                graph
                    .iter()
                    .filter(|(_, (_, deps))| deps.iter().any(|d| d == addr))
                    .map(|(a, _)| a.clone())
                    .collect()
            } else {
                graph
                    .get(addr)
                    .map(|(_, deps)| {
                        deps.iter()
                            .filter(|d| graph.contains_key(*d))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default()
            }
        };
        let own = |addr: &str| {
            if destroy {
                self.destroy_seconds(addr, graph)
            } else {
                graph.get(addr).map_or(0.0, |(t, _)| self.create_seconds(t))
            }
        };
        // Per node: when it is done, the link it waited for last, and the seconds that link
        // added. Memoised: the graph is a DAG.
        type Memo = BTreeMap<String, (f64, Option<String>, f64)>;
        let mut memo: Memo = BTreeMap::new();
        fn finish(
            p: &Profile,
            graph: &Graph,
            destroy: bool,
            addr: &str,
            before: &dyn Fn(&str) -> Vec<String>,
            own: &dyn Fn(&str) -> f64,
            memo: &mut Memo,
        ) -> f64 {
            if let Some((f, _, _)) = memo.get(addr) {
                return *f;
            }
            let mine = own(addr);
            let mut best: (f64, Option<String>, f64) = (mine, None, mine);
            for pred in before(addr) {
                let f = finish(p, graph, destroy, &pred, before, own, memo) + mine;
                if f > best.0 || best.1.is_none() && f >= best.0 {
                    best = (f, Some(pred), mine);
                }
            }
            if destroy {
                let release = p.seconds("eni_release");
                for holder in p.held_by(addr, graph) {
                    let f = finish(p, graph, destroy, holder, before, own, memo) + release;
                    if f > best.0 {
                        best = (f, Some(holder.clone()), release);
                    }
                }
            }
            memo.insert(addr.to_owned(), best.clone());
            best.0
        }
        let mut end: Option<(f64, String)> = None;
        for addr in graph.keys() {
            let f = finish(self, graph, destroy, addr, &before, &own, &mut memo);
            if end.as_ref().is_none_or(|(e, _)| f > *e) {
                end = Some((f, addr.clone()));
            }
        }
        let mut path = Vec::new();
        let mut at = end.as_ref().map(|(_, a)| a.clone());
        while let Some(a) = at {
            let (_, pred, added) = memo.get(&a).cloned().unwrap_or((0.0, None, 0.0));
            path.push((a, added));
            at = pred;
        }
        path.reverse();
        // Keep the chain readable: only the links that wait.
        path.retain(|(_, s)| *s > 0.0);
        let waiting = graph.keys().map(|a| own(a)).sum::<f64>()
            + if destroy {
                graph
                    .keys()
                    .filter(|a| !self.held_by(a, graph).is_empty())
                    .count() as f64
                    * self.seconds("eni_release")
            } else {
                0.0
            };
        CriticalPath {
            seconds: end.map_or(0.0, |(f, _)| f),
            path,
            waiting,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_critical_path_follows_the_longest_chain_of_waits() {
        let g: Graph = [
            ("sg.rds", "aws_security_group", vec![]),
            ("sg.ecs", "aws_security_group", vec![]),
            ("db", "aws_db_instance", vec!["sg.rds"]),
            ("lb", "aws_lb", vec![]),
            ("svc", "aws_ecs_service", vec!["db", "lb", "sg.ecs"]),
        ]
        .into_iter()
        .map(|(a, t, d)| {
            (
                a.to_owned(),
                (t.to_owned(), d.into_iter().map(str::to_owned).collect()),
            )
        })
        .collect();
        let p = Profile::realistic();
        let apply = p.critical_path(&g, false);
        // The database, then the service's first deployment, which apply waits for.
        assert_eq!(apply.seconds, 600.0);
        assert_eq!(
            apply.path,
            [("db".to_owned(), 300.0), ("svc".to_owned(), 300.0)]
        );
        assert_eq!(apply.waiting, 755.0);
        let destroy = p.critical_path(&g, true);
        // The service drains (60), then its group waits for the task interfaces (180) while
        // the database's delete (180) runs: two chains of 240 s.
        assert_eq!(destroy.seconds, 240.0);
        assert_eq!(destroy.path[0], ("svc".to_owned(), 60.0));
        assert_eq!(destroy.path[1].1, 180.0);
        let longer = p.clone().with("eni_release", 200.0);
        assert_eq!(
            longer.critical_path(&g, true).path,
            [("svc".to_owned(), 60.0), ("sg.ecs".to_owned(), 200.0)]
        );
        // The interfaces' clock starts with the service, not with the group: a group that
        // also waits for the database (the database uses it) is not held for the database's
        // delete plus the release, only for the longer of the two.
        let mut g2 = g.clone();
        g2.get_mut("db").unwrap().1.push("sg.ecs".to_owned());
        let chained = p.critical_path(&g2, true);
        assert_eq!(chained.seconds, 240.0, "{chained:?}");
    }
}
