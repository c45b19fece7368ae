//! The benchmark under real AWS's timeline: apply from empty and destroy through the test kit's
//! lifecycle layer at the realistic profile, scaled, against the critical path the profile's
//! durations make through the stack's dependency graph.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use stackctl_testkit::{CriticalPath, FaultProxy, Faults, Graph, Profile};

use super::{Bench, Measure};

/// What one timed apply and destroy did.
pub struct Timeline {
    pub scale: f64,
    pub apply: Measure,
    pub destroy: Measure,
    /// Requests of the same commands without waits (a median plain run).
    pub plain_apply_requests: u64,
    pub plain_destroy_requests: u64,
    /// The same per operation.
    pub plain_ops: (BTreeMap<String, u64>, BTreeMap<String, u64>),
    /// Wall time of the same commands without waits (a median plain run).
    pub plain_walls: (Duration, Duration),
    pub cp_apply: CriticalPath,
    pub cp_destroy: CriticalPath,
}

/// Poll interval of stackctl's long waits once their quiet period is over, in real seconds.
const POLL: f64 = 10.0;

pub fn run(b: &Bench, scale: f64, plain: (&Measure, &Measure)) -> Timeline {
    let (plain_apply_requests, plain_destroy_requests) = (plain.0.requests, plain.1.requests);
    let plain_ops = (plain.0.ops.clone(), plain.1.ops.clone());
    let plain_walls = (plain.0.wall, plain.1.wall);
    b.fresh();
    b.warm();
    let profile = Profile::realistic().scaled(scale);
    let layer = FaultProxy::start(
        &b.moto.raw_endpoint,
        Faults::none().with_lifecycle(profile.clone()),
    );
    let env = [("STACKCTL_TIME_SCALE", scale.to_string())];
    eprintln!("apply under the realistic profile at {scale}");
    let apply = b.run(&layer, &["apply", "-auto-approve"], true, &env);
    apply.expect_code(0, "apply under the realistic profile");
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(b.dir.join(".stackctl/prestashop-dev.json")).unwrap(),
    )
    .unwrap();
    let graph = graph_of(&state);
    eprintln!("destroy under the realistic profile at {scale}");
    let destroy = b.run(&layer, &["destroy", "-auto-approve"], true, &env);
    destroy.expect_code(0, "destroy under the realistic profile");
    Timeline {
        scale,
        apply,
        destroy,
        plain_apply_requests,
        plain_destroy_requests,
        plain_ops,
        plain_walls,
        cp_apply: profile.critical_path(&graph, false),
        cp_destroy: profile.critical_path(&graph, true),
    }
}

/// The state's resources and what each depended on when written.
fn graph_of(state: &serde_json::Value) -> Graph {
    state["resources"]
        .as_object()
        .expect("resources in the state")
        .iter()
        .map(|(addr, r)| {
            let deps = r["depends_on"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|d| d.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            (
                addr.clone(),
                (r["type"].as_str().unwrap_or_default().to_owned(), deps),
            )
        })
        .collect()
}

struct Row {
    real: f64,
    cp: f64,
    polls: i64,
    waiting: f64,
}

impl Row {
    fn limit(&self) -> f64 {
        self.cp * 1.05 + POLL
    }
    fn polls_per_10s(&self) -> f64 {
        if self.waiting <= 0.0 {
            0.0
        } else {
            self.polls as f64 / (self.waiting / 10.0)
        }
    }
}

impl Timeline {
    fn row(&self, m: &Measure, cp: &CriticalPath, plain: u64) -> Row {
        Row {
            real: m.wall.as_secs_f64() / self.scale,
            cp: cp.seconds,
            polls: m.requests as i64 - plain as i64,
            waiting: cp.waiting,
        }
    }

    /// Whether both runs met the targets.
    pub fn on_target(&self) -> bool {
        let a = self.row(&self.apply, &self.cp_apply, self.plain_apply_requests);
        let d = self.row(&self.destroy, &self.cp_destroy, self.plain_destroy_requests);
        [a, d]
            .iter()
            .all(|r| r.real <= r.limit() && r.polls_per_10s() <= 1.0)
    }

    pub fn markdown(&self) -> String {
        let a = self.row(&self.apply, &self.cp_apply, self.plain_apply_requests);
        let d = self.row(&self.destroy, &self.cp_destroy, self.plain_destroy_requests);
        let mut s = String::new();
        let w = &mut s;
        let _ = writeln!(w, "## Under real AWS's timeline\n");
        let _ = writeln!(
            w,
            "Apply from an empty account and destroy through the test kit's lifecycle layer at the realistic profile (`modules/testkit/profiles/realistic.toml`), played at {} test second per real second (`BENCH_TIME_SCALE`; stackctl's waits run on the same clock through `STACKCTL_TIME_SCALE`). Times are scaled back to real seconds. The critical path is computed from the profile's durations and the state's dependency graph only (`Profile::critical_path`), not from stackctl's requests.\n",
            self.scale
        );
        let _ = writeln!(w, "| | apply from empty | destroy | target |");
        let _ = writeln!(w, "|---|---|---|---|");
        let _ = writeln!(
            w,
            "| wall time, in real seconds | {:.0} s | {:.0} s | |",
            a.real, d.real
        );
        let _ = writeln!(
            w,
            "| critical path of the profile | {:.0} s | {:.0} s | |",
            a.cp, d.cp
        );
        let _ = writeln!(
            w,
            "| over the critical path | {:+.0} s ({:.3}x) | {:+.0} s ({:.3}x) | at most 5 % + one poll ({POLL:.0} s): {:.0} s / {:.0} s {} |",
            a.real - a.cp,
            a.real / a.cp.max(1.0),
            d.real - d.cp,
            d.real / d.cp.max(1.0),
            a.limit(),
            d.limit(),
            if a.real <= a.limit() && d.real <= d.limit() { "met" } else { "MISSED" }
        );
        let _ = writeln!(
            w,
            "| polls (requests beyond the same run without waits: {} / {}) | {} | {} | |",
            self.plain_apply_requests, self.plain_destroy_requests, a.polls, d.polls
        );
        let _ = writeln!(
            w,
            "| waiting, all waits added up | {:.0} s | {:.0} s | |",
            a.waiting, d.waiting
        );
        let _ = writeln!(
            w,
            "| polls per 10 s of waiting | {:.2} | {:.2} | at most 1: {} |",
            a.polls_per_10s(),
            d.polls_per_10s(),
            if a.polls_per_10s() <= 1.0 && d.polls_per_10s() <= 1.0 {
                "met"
            } else {
                "MISSED"
            }
        );
        let _ = writeln!(
            w,
            "\n<details><summary>Polls per operation (requests beyond the run without waits)</summary>\n"
        );
        let _ = writeln!(w, "| service operation | apply | destroy |");
        let _ = writeln!(w, "|---|---|---|");
        let extra = |m: &Measure, plain: &BTreeMap<String, u64>, op: &str| {
            m.ops.get(op).copied().unwrap_or(0) as i64 - plain.get(op).copied().unwrap_or(0) as i64
        };
        let ops: std::collections::BTreeSet<&String> = self
            .apply
            .ops
            .keys()
            .chain(self.destroy.ops.keys())
            .collect();
        let mut rows: Vec<(i64, i64, &String)> = ops
            .into_iter()
            .map(|op| {
                (
                    extra(&self.apply, &self.plain_ops.0, op),
                    extra(&self.destroy, &self.plain_ops.1, op),
                    op,
                )
            })
            .filter(|(a, d, _)| *a != 0 || *d != 0)
            .collect();
        rows.sort_by(|x, y| (y.0 + y.1).cmp(&(x.0 + x.1)).then(x.2.cmp(y.2)));
        for (a, d, op) in rows {
            let _ = writeln!(w, "| `{op}` | {a} | {d} |");
        }
        let _ = writeln!(w, "\n</details>");
        let chain = |cp: &CriticalPath| {
            cp.path
                .iter()
                .map(|(a, s)| format!("`{a}` {s:.0} s"))
                .collect::<Vec<_>>()
                .join(" → ")
        };
        let _ = writeln!(w, "\nCritical path of apply: {}.", chain(&self.cp_apply));
        let _ = writeln!(w, "Critical path of destroy: {}.", chain(&self.cp_destroy));
        let _ = writeln!(
            w,
            "\nThe wall time includes stackctl's own work without waits (the plain runs above, {} for apply, {} for destroy, each multiplied by {:.0} when scaled back), and the apply includes the fresh account's first CreateCluster, refused once while ECS's service-linked role is made.",
            fmt(self.plain_walls.0),
            fmt(self.plain_walls.1),
            1.0 / self.scale
        );
        s
    }
}

fn fmt(d: Duration) -> String {
    super::fmt_dur(d)
}
