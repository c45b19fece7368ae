//! Rendering for people: the plan in Terraform's notation, live progress lines, and outputs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use serde_json::Value as J;
use stackctl_contract::{ResourceError, Val};

use super::plan::{Action, Change, Mode, Plan};
use super::state::Output;

/// `resource "aws_security_group" "alb"` from `module.security.aws_security_group.alb`; an
/// instance key (`main["eu-west-3a"]`) stays in the comment line above, as Terraform does.
fn resource_header(c: &Change) -> String {
    let t = c.kind.type_name();
    let name = c
        .address
        .split_once(&format!("{t}."))
        .map(|(_, n)| n)
        .unwrap_or(&c.address);
    let name = name.split('[').next().unwrap_or(name);
    format!("resource \"{t}\" \"{name}\"")
}

pub fn value(v: &J) -> String {
    match v {
        J::String(s) if s.starts_with("fingerprint:") => "(sensitive value)".to_owned(),
        other => other.to_string(),
    }
}

fn val(v: &Val, sensitive: bool) -> String {
    match v {
        Val::Unknown => "(known after apply)".to_owned(),
        Val::Known(_) if sensitive => "(sensitive value)".to_owned(),
        Val::Known(v) => value(v),
    }
}

/// The plan as Terraform prints it: one block per change, then the summary line.
pub fn plan(p: &Plan) -> String {
    let mut out = String::new();
    let changes: Vec<&Change> = p
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp || c.adopt)
        .collect();
    if changes.is_empty() {
        out.push_str(match p.mode {
            Mode::Apply => "No changes. Your infrastructure matches the configuration.\n",
            Mode::Destroy => "No changes. No objects need to be destroyed.\n",
        });
        return out;
    }
    out.push_str("stackctl will perform the following actions:\n");
    for c in changes {
        let sensitive = c.kind.sensitive();
        let verb = match c.action {
            Action::Create => "will be created",
            Action::Update => "will be updated in place",
            Action::Replace => "must be replaced",
            Action::Delete => "will be destroyed",
            // Terraform's "will be imported": the state learns of it, AWS is not changed.
            Action::NoOp => "will be adopted into the state",
        };
        let _ = write!(out, "\n  # {} {verb}", c.address);
        if let Some(note) = &c.note {
            let _ = write!(out, " ({note})");
        }
        let _ = writeln!(out, "\n{:>3} {} {{", c.action.symbol(), resource_header(c));
        let width = c.desired.keys().map(String::len).max().unwrap_or(2).max(2);
        match c.action {
            Action::Create => {
                for (k, v) in &c.desired {
                    let _ = writeln!(
                        out,
                        "      + {k:<width$} = {}",
                        val(v, sensitive.contains(&k.as_str()))
                    );
                }
                if !c.desired.contains_key("id") {
                    let _ = writeln!(out, "      + {:<width$} = (known after apply)", "id");
                }
            }
            Action::Update | Action::Replace => {
                let live = c.live.as_ref().map(|l| &l.attrs);
                let _ = writeln!(
                    out,
                    "        {:<width$} = {}",
                    "id",
                    J::from(c.live.as_ref().map(|l| l.id.as_str()).unwrap_or(""))
                );
                for k in &c.changed {
                    let s = sensitive.contains(&k.as_str());
                    let old = live
                        .and_then(|l| l.get(k))
                        .map(|v| {
                            if s {
                                "(sensitive value)".to_owned()
                            } else {
                                value(v)
                            }
                        })
                        .unwrap_or_else(|| "null".into());
                    let new = c.desired.get(k).map(|v| val(v, s)).unwrap_or_default();
                    let forces = if c.action == Action::Replace
                        && c.kind.force_new().contains(&k.as_str())
                    {
                        " # forces replacement"
                    } else {
                        ""
                    };
                    let _ = writeln!(out, "      ~ {k:<width$} = {old} -> {new}{forces}");
                }
            }
            Action::Delete => {
                let live = c.live.as_ref();
                let _ = writeln!(
                    out,
                    "      - {:<width$} = {}",
                    "id",
                    J::from(live.map(|l| l.id.as_str()).unwrap_or(""))
                );
                if let Some(name) = live.and_then(|l| l.attrs.get("name")) {
                    let _ = writeln!(out, "      - {:<width$} = {}", "name", value(name));
                }
            }
            Action::NoOp => {
                let id = c.live.as_ref().map(|l| l.id.as_str()).unwrap_or("");
                let _ = writeln!(out, "        {:<width$} = {}", "id", J::from(id));
            }
        }
        out.push_str("    }\n");
    }
    let (add, change, destroy) = p.counts();
    let _ = writeln!(
        out,
        "\nPlan: {}{add} to add, {change} to change, {destroy} to destroy.",
        match p.adopts() {
            0 => String::new(),
            n => format!("{n} to adopt, "),
        }
    );
    out
}

/// Outputs as `terraform output` prints them, sensitive ones masked.
pub fn outputs(outputs: &BTreeMap<String, Output>) -> String {
    let width = outputs.keys().map(String::len).max().unwrap_or(0);
    let mut out = String::new();
    for (name, o) in outputs {
        let v = if o.sensitive {
            "<sensitive>".to_owned()
        } else {
            o.value.to_string()
        };
        let _ = writeln!(out, "{name:<width$} = {v}");
    }
    out
}

/// Live progress, one line per resource as it starts and as it ends, with elapsed time.
pub struct Progress;

fn secs(d: Duration) -> String {
    if d.as_secs() >= 60 {
        format!("{}m{}s", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

fn verbs(a: Action) -> (&'static str, &'static str, &'static str) {
    match a {
        Action::Create => ("Creating...", "Creation complete", "creating"),
        Action::Update => ("Modifying...", "Modifications complete", "modifying"),
        Action::Replace => ("Replacing...", "Replacement complete", "replacing"),
        Action::Delete => ("Destroying...", "Destruction complete", "destroying"),
        Action::NoOp => ("Adopting...", "Adoption complete", "adopting"),
    }
}

impl Progress {
    fn line(&self, s: String) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{s}");
        let _ = out.flush();
    }

    pub fn start(&self, c: &Change) {
        let id = c
            .live
            .as_ref()
            .filter(|_| c.action != Action::Create)
            .map(|l| format!(" [id={}]", l.id))
            .unwrap_or_default();
        self.line(format!("{}: {}{id}", c.address, verbs(c.action).0));
    }

    pub fn done(&self, c: &Change, elapsed: Duration, id: Option<&str>) {
        let id = id.map(|i| format!(" [id={i}]")).unwrap_or_default();
        self.line(format!(
            "{}: {} after {}{id}",
            c.address,
            verbs(c.action).1,
            secs(elapsed)
        ));
    }

    pub fn still(&self, c: &Change, elapsed: Duration) {
        self.line(format!(
            "{}: Still {}... [{} elapsed]",
            c.address,
            verbs(c.action).2,
            secs(elapsed)
        ));
    }

    pub fn failed(&self, c: &Change, elapsed: Duration, e: &ResourceError) {
        self.line(format!(
            "{}: Failed after {}: {}",
            c.address,
            secs(elapsed),
            e.operation
        ));
    }

    pub fn skipped(&self, address: &str) {
        self.line(format!(
            "{address}: Skipped (something it needs failed or the run was interrupted)"
        ));
    }

    pub fn interrupted(&self, running: usize) {
        self.line(format!("Interrupt received: starting nothing new, waiting for {running} running operation(s) to finish and be recorded... (press Ctrl-C again to stop at once)"));
    }

    pub fn aborted(&self, running: usize) {
        self.line(format!("Second interrupt: stopping now. Every finished operation is in the state; {running} were still running in AWS. Run the same command again: it finds and adopts what they made."));
    }
}
