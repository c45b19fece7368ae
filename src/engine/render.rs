//! Rendering: the plan in Terraform's notation, live progress lines and outputs for people, and
//! the same as JSON events for machines (built in [`events`]); the [`Printer`] it is handed
//! decides which is printed.

pub mod events;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Map, Value as J};
use stackctl_contract::{Address, ResourceError, Val, Values, PENDING};

pub use self::events::{outputs_json, resource_json, version};
use super::plan::{Action, Change, Drift, Mode, Plan, ProviderChange, TfAction};
use super::state::{Output, State};
use super::OutputDef;
use crate::ui::{Mode as UiMode, Printer};

/// `resource "aws_security_group" "alb"` from `module.security.aws_security_group.alb`; an
/// instance key (`main["eu-west-3a"]`) stays in the comment line above, as Terraform does.
pub fn resource_header(address: &str, type_name: &str) -> String {
    match Address::parse(address) {
        Ok(a) => a.block(),
        Err(_) => format!("resource \"{type_name}\" \"{address}\""),
    }
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
pub fn plan(p: &Plan, ui: Printer) -> String {
    let mut out = String::new();
    let changes: Vec<ProviderChange> = p
        .provider_changes()
        .into_iter()
        .filter(ProviderChange::does_something)
        .collect();
    if changes.is_empty() {
        let _ = writeln!(out, "{}", summary(p));
        out.push_str(&pending(p));
        return out;
    }
    out.push_str("stackctl will perform the following actions:\n");
    for pc in changes {
        change_block(&mut out, &pc, ui);
    }
    let _ = writeln!(out, "\n{}", summary(p));
    out.push_str(&pending(p));
    out
}

/// What Terraform says of an action in the plan's comment line.
pub fn verb(action: TfAction) -> &'static str {
    match action {
        TfAction::Create => "will be created",
        TfAction::Update => "will be updated in place",
        TfAction::DeleteThenCreate | TfAction::CreateThenDelete => "must be replaced",
        TfAction::CreateThenForget => {
            "must be replaced, but the existing object will not be destroyed"
        }
        TfAction::Delete => "will be destroyed",
        // Terraform's "will be imported": the state learns of it, AWS is not changed.
        TfAction::NoOp => "will be adopted into the state",
    }
}

/// One provider resource's block: its comment line, then the attributes it owns.
fn change_block(out: &mut String, pc: &ProviderChange, ui: Printer) {
    let c = pc.change;
    let address = pc.address();
    let sensitive = c.kind.sensitive();
    let _ = write!(out, "\n  # {address} {}", verb(pc.action));
    if let Some(note) = &c.note {
        let _ = write!(out, " ({note})");
    }
    let symbol = ui.paint_symbol(pc.action.symbol());
    let _ = writeln!(
        out,
        "\n{symbol} {} {{",
        resource_header(&address, pc.type_name())
    );
    let owned: Vec<(&String, &Val)> = c.desired.iter().filter(|(k, _)| pc.owns(k)).collect();
    let width = owned.iter().map(|(k, _)| k.len()).max().unwrap_or(2).max(2);
    let live_id = J::from(c.live.as_ref().map(|l| l.id.as_str()).unwrap_or(""));
    // A part (a secret's value) has no id of its own in the state: the kind's id stands for it.
    let id_line = pc.part.is_none();
    match pc.action {
        TfAction::Create => {
            for (k, v) in &owned {
                let _ = writeln!(
                    out,
                    "      + {k:<width$} = {}",
                    val(v, sensitive.contains(&k.as_str()))
                );
            }
            if id_line && !c.desired.contains_key("id") {
                let _ = writeln!(out, "      + {:<width$} = (known after apply)", "id");
            }
        }
        TfAction::Update
        | TfAction::DeleteThenCreate
        | TfAction::CreateThenDelete
        | TfAction::CreateThenForget => {
            let live = c.live.as_ref().map(|l| &l.attrs);
            if id_line {
                let _ = writeln!(out, "        {:<width$} = {live_id}", "id");
            }
            for k in c.changed.iter().filter(|k| pc.owns(k)) {
                let s = sensitive.contains(&k.as_str());
                let shown = |v: &J| {
                    if s {
                        "(sensitive value)".to_owned()
                    } else {
                        value(v)
                    }
                };
                let mut old = live
                    .and_then(|l| l.get(k))
                    .map(shown)
                    .unwrap_or_else(|| "null".into());
                // What AWS already holds for the maintenance window is replaced too.
                if let Some(p) = live.and_then(|l| l.get(PENDING)).and_then(|p| p.get(k)) {
                    let _ = write!(old, " (pending {})", shown(p));
                }
                let new = c.desired.get(k).map(|v| val(v, s)).unwrap_or_default();
                let forces = if pc.action.is_replace() && c.kind.force_new(k) {
                    " # forces replacement".to_owned()
                } else {
                    c.notes
                        .get(k)
                        .map(|n| format!(" # {n}"))
                        .unwrap_or_default()
                };
                let _ = writeln!(out, "      ~ {k:<width$} = {old} -> {new}{forces}");
            }
        }
        TfAction::Delete => {
            let live = c.live.as_ref();
            if id_line {
                let _ = writeln!(out, "      - {:<width$} = {live_id}", "id");
                if let Some(name) = live.and_then(|l| l.attrs.get("name")) {
                    let _ = writeln!(out, "      - {:<width$} = {}", "name", value(name));
                }
            } else {
                for (k, _) in &owned {
                    let _ = writeln!(out, "      - {k:<width$} = (sensitive value)");
                }
            }
        }
        TfAction::NoOp => {
            if id_line {
                let _ = writeln!(out, "        {:<width$} = {live_id}", "id");
            }
        }
    }
    out.push_str("    }\n");
}

/// A refresh-only plan as Terraform prints it: what changed outside stackctl, attribute by
/// attribute, secrets masked; nothing is planned.
pub fn drift(drift: &[Drift]) -> String {
    if drift.is_empty() {
        return "No changes. Your infrastructure still matches the state: there is nothing to record.\n"
            .to_owned();
    }
    let mut out = String::from("Note: Objects have changed outside of stackctl\n");
    for d in drift {
        let header = resource_header(&d.address, d.kind.type_name());
        let Some(after) = &d.after else {
            let _ = writeln!(out, "\n  # {} has been deleted", d.address);
            let _ = writeln!(
                out,
                "  - {header} {{\n      - id = {}\n    }}",
                J::from(d.before.id.as_str())
            );
            continue;
        };
        let _ = writeln!(out, "\n  # {} has changed", d.address);
        let _ = writeln!(out, "  ~ {header} {{");
        let _ = writeln!(out, "        id = {}", J::from(after.id.as_str()));
        let keys: std::collections::BTreeSet<&String> =
            d.before.attrs.keys().chain(after.attrs.keys()).collect();
        let sensitive = d.kind.sensitive();
        for k in keys {
            let (old, new) = (d.before.attrs.get(k), after.attrs.get(k));
            if old == new {
                continue;
            }
            let shown = |v: Option<&J>| match v {
                None => "null".to_owned(),
                Some(_) if sensitive.contains(&k.as_str()) => "(sensitive value)".to_owned(),
                Some(v) => value(v),
            };
            let _ = writeln!(out, "      ~ {k} = {} -> {}", shown(old), shown(new));
        }
        out.push_str("    }\n");
    }
    out.push_str("\nThis is a refresh-only plan, so stackctl will not take any actions to undo these. If you were\nexpecting these changes, apply it (`stackctl apply -refresh-only` or `stackctl refresh`) to\nrecord the updated values in the state without changing any remote objects.\n");
    out
}

/// Print a refresh-only plan in the current output mode (JSON: one `resource_drift` event per
/// resource and a `change_summary`).
pub fn show_drift(d: &[Drift], ui: Printer) {
    match ui.mode() {
        UiMode::Human => ui.detail(&drift(d)),
        UiMode::Quiet => ui.result(&format!(
            "Drift: {} resources changed outside stackctl.",
            d.len()
        )),
        UiMode::Json => {
            for x in d {
                let action = if x.after.is_some() {
                    "update"
                } else {
                    "delete"
                };
                ui.event(
                    "resource_drift",
                    &format!("{}: Drift detected ({action})", x.address),
                    fields([(
                        "change",
                        json!({ "resource": resource_json(&x.address), "action": action }),
                    )]),
                );
            }
            // Terraform's summary of a refresh-only plan: nothing to do; stackctl says how
            // many resources drifted beside it.
            ui.event(
                "change_summary",
                &format!("Drift: {} resources changed outside stackctl.", d.len()),
                fields([(
                    "changes",
                    json!({ "add": 0, "change": 0, "import": 0, "remove": 0, "drift": d.len(), "operation": "plan" }),
                )]),
            );
        }
    }
}

/// The plan's one-line verdict: `Plan: 1 to add, 0 to change, 0 to destroy.` or `No changes.`
pub fn summary(p: &Plan) -> String {
    if !p.has_changes() {
        return match p.mode {
            Mode::Apply => "No changes. Your infrastructure matches the configuration.",
            Mode::Destroy => "No changes. No objects need to be destroyed.",
        }
        .to_owned();
    }
    let (add, change, destroy) = p.counts();
    format!(
        "Plan: {}{add} to add, {change} to change, {destroy} to destroy.",
        match p.adopts() {
            0 => String::new(),
            n => format!("{n} to adopt, "),
        }
    )
}

/// Print a plan in the current output mode: the whole text, its summary line alone (quiet),
/// or Terraform's events (JSON): a `planned_change` per provider resource that apply acts on,
/// the `change_summary` (the counts of the text's `Plan: ...` line) and the `outputs` with what
/// the plan does to each (`outputs` are the configuration's; none on destroy).
pub fn show_plan(p: &Plan, outputs: &[OutputDef], ui: Printer) {
    match ui.mode() {
        UiMode::Human => ui.detail(&plan(p, ui)),
        UiMode::Quiet => ui.result(&summary(p)),
        UiMode::Json => {
            for pc in p.provider_changes().iter().filter(|pc| pc.does_something()) {
                let (message, change) = events::planned_change(pc, p.mode);
                ui.event("planned_change", &message, fields([("change", change)]));
            }
            ui.event(
                "change_summary",
                &summary(p),
                fields([("changes", events::plan_summary(p))]),
            );
            let planned = crate::engine::plan::planned_outputs(p, outputs);
            if !planned.is_empty() {
                ui.event(
                    "outputs",
                    &format!("Outputs: {}", planned.len()),
                    fields([("outputs", events::plan_outputs(&planned))]),
                );
            }
        }
    }
}

/// Apply's `outputs` event: every output with its type, sensitive ones without their value.
pub fn show_outputs_event(outputs: &BTreeMap<String, Output>, ui: Printer) {
    ui.event(
        "outputs",
        &format!("Outputs: {}", outputs.len()),
        fields([("outputs", outputs_json(outputs, false))]),
    );
}

/// A JSON event's fields from pairs.
pub fn fields<const N: usize>(pairs: [(&str, J); N]) -> Map<String, J> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// The values AWS has accepted but not applied yet, under a heading; empty when there are none.
/// They are neither changes to make (the plan does not count them) nor done, and a user who
/// asked for them wants to see that they are on their way.
fn pending(p: &Plan) -> String {
    pending_lines(
        p.changes
            .iter()
            .filter(|c| matches!(c.action, Action::NoOp | Action::Update))
            .filter_map(|c| Some((c.address.as_str(), &c.live.as_ref()?.attrs))),
    )
}

/// The same for what an apply leaves in the state: a deferred change shows as pending at once.
pub fn pending_in_state(state: &State) -> String {
    pending_lines(
        state
            .resources
            .iter()
            .map(|(address, rs)| (address.as_str(), &rs.attrs)),
    )
}

fn pending_lines<'a>(resources: impl Iterator<Item = (&'a str, &'a Values)>) -> String {
    let mut lines = String::new();
    for (address, attrs) in resources {
        let Some(values) = attrs.get(PENDING).and_then(J::as_object) else {
            continue;
        };
        for (k, v) in values {
            let now = attrs.get(k).map(value).unwrap_or_else(|| "null".into());
            let _ = writeln!(lines, "  {address}: {k} = {now} -> {}", value(v));
        }
    }
    if lines.is_empty() {
        return lines;
    }
    format!("\nPending in AWS (accepted, not applied yet: an RDS database applies these in its maintenance window):\n{lines}")
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

/// Live progress, one line per resource as it starts and as it ends, with elapsed time, printed
/// by the printer it holds.
#[derive(Default)]
pub struct Progress(pub Printer);

/// The engine's apply reports its notes (a test hook firing) with its progress.
impl super::Report for Progress {
    fn warn(&self, text: &str) {
        self.0.warn(text)
    }

    fn notice(&self, text: &str) {
        self.0.notice(text)
    }
}

fn secs(d: Duration) -> String {
    if d.as_secs() >= 60 {
        format!("{}m{}s", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// What a progress line says of an action: (starting, done, going on).
type Verbs = (&'static str, &'static str, &'static str);

impl Progress {
    /// One progress line for a person, naming the change; in JSON, Terraform's hook event for
    /// each provider resource apply acts on (a secret and its version), its message naming that
    /// resource. `text` words the line from an address, the verbs and the id to show, if any.
    fn report(
        &self,
        kind: &str,
        c: &Change,
        id: Option<&str>,
        text: impl Fn(&str, Verbs, Option<&str>) -> String,
        hook: impl Fn(&ProviderChange, Option<&str>) -> J,
    ) {
        let ui = self.0;
        if !ui.json() {
            let verbs = events::verbs(events::tf_action(c.action));
            ui.detail(&text(&c.address, verbs, id));
            return;
        }
        for pc in events::acted(c) {
            // A part (a secret's version) has no id of its own in the state.
            let id = id.filter(|_| pc.part.is_none());
            let message = text(&pc.address(), events::verbs(pc.action), id);
            ui.event(kind, &message, fields([("hook", hook(&pc, id))]));
        }
    }

    pub fn start(&self, c: &Change) {
        let id = c
            .live
            .as_ref()
            .filter(|_| c.action != Action::Create)
            .map(|l| l.id.as_str());
        self.report(
            "apply_start",
            c,
            id,
            |address, verbs, id| {
                let id = id.map(|i| format!(" [id={i}]")).unwrap_or_default();
                format!("{address}: {}{id}", verbs.0)
            },
            |pc, id| events::with_id(events::hook(pc, None), pc, id),
        );
    }

    pub fn done(&self, c: &Change, elapsed: Duration, id: Option<&str>) {
        self.report(
            "apply_complete",
            c,
            id,
            |address, verbs, id| {
                let shown = id.map(|i| format!(" [id={i}]")).unwrap_or_default();
                format!("{address}: {} after {}{shown}", verbs.1, secs(elapsed))
            },
            |pc, id| events::with_id(events::hook(pc, Some(elapsed)), pc, id),
        );
    }

    /// A resource still in progress, with what AWS last said of it (`note`), when a wait
    /// heard something.
    pub fn still(&self, c: &Change, elapsed: Duration, note: Option<&str>) {
        self.report(
            "apply_progress",
            c,
            None,
            |address, verbs, _| {
                format!(
                    "{address}: Still {}... [{} elapsed]{}",
                    verbs.2,
                    secs(elapsed),
                    note.map(|n| format!(" ({n})")).unwrap_or_default()
                )
            },
            |pc, _| {
                let mut hook = events::hook(pc, Some(elapsed));
                if let Some(n) = note {
                    hook["note"] = json!(n);
                }
                hook
            },
        );
    }

    pub fn failed(&self, c: &Change, elapsed: Duration, e: &ResourceError) {
        self.report(
            "apply_errored",
            c,
            None,
            |address, _, _| format!("{address}: Failed after {}: {}", secs(elapsed), e.operation),
            |pc, _| events::hook(pc, Some(elapsed)),
        );
    }

    pub fn skipped(&self, address: &str) {
        let text =
            format!("{address}: Skipped (something it needs failed or the run was interrupted)");
        self.line(
            "apply_skipped",
            text,
            || json!({ "resource": resource_json(address) }),
        );
    }

    /// An operation whose wait the interrupt ended: its requests were sent, AWS goes on.
    pub fn stopped(&self, c: &Change, elapsed: Duration, e: &ResourceError) {
        self.report(
            "apply_stopped",
            c,
            None,
            |address, _, _| {
                format!(
                    "{address}: Stopped waiting after {} ({}): AWS goes on with it",
                    secs(elapsed),
                    e.message
                )
            },
            |pc, _| events::hook(pc, Some(elapsed)),
        );
    }

    /// A line that names no change: for a person, or as a JSON event (built only then).
    fn line(&self, kind: &str, text: String, hook: impl FnOnce() -> J) {
        let ui = self.0;
        if ui.json() {
            ui.event(kind, &text, fields([("hook", hook())]));
        } else {
            ui.detail(&text);
        }
    }

    pub fn interrupted(&self, running: usize) {
        let text = format!("Interrupt received: starting nothing new; {running} running operation(s) finish the request they are sending, stop waiting on AWS and are recorded... (press Ctrl-C again to stop at once)");
        self.line("interrupt", text, || json!({ "running": running }));
    }

    pub fn aborted(&self, running: usize) {
        let text = format!("Second interrupt: stopping now. Every finished operation is in the state; {running} were still running in AWS. Run the same command again: it finds and adopts what they made.");
        self.line(
            "interrupt",
            text,
            || json!({ "running": running, "stopped": true }),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use stackctl_contract::{Attrs, Instance};

    use crate::engine::fake::{self, FakeKind};

    use super::*;

    fn change(action: Action, live: Values, desired: Attrs, changed: &[&str]) -> Change {
        fake::change(
            "module.rds.aws_db_instance.main",
            Arc::new(FakeKind::new("aws_db_instance")),
            action,
            Some(Instance::new("p-db", live)),
            desired,
            changed,
        )
    }

    fn plan_of(changes: Vec<Change>) -> Plan {
        Plan {
            mode: Mode::Apply,
            prior: State::new(),
            changes,
        }
    }

    #[test]
    fn a_deferred_change_carries_its_note_on_its_line() {
        let mut c = change(
            Action::Update,
            Values::from([("instance_class".to_owned(), json!("db.t3.micro"))]),
            Attrs::from([("instance_class".to_owned(), Val::from("db.t3.small"))]),
            &["instance_class"],
        );
        c.notes.insert(
            "instance_class".into(),
            "deferred to the next maintenance window".into(),
        );
        let out = plan(&plan_of(vec![c]), Printer::default());
        assert!(
            out.contains("~ instance_class = \"db.t3.micro\" -> \"db.t3.small\" # deferred to the next maintenance window\n"),
            "{out}"
        );
    }

    #[test]
    fn pending_values_are_listed_but_are_not_changes() {
        let live = Values::from([
            ("instance_class".to_owned(), json!("db.t3.micro")),
            (
                PENDING.to_owned(),
                json!({ "instance_class": "db.t3.small" }),
            ),
        ]);
        let out = plan(
            &plan_of(vec![change(Action::NoOp, live.clone(), Attrs::new(), &[])]),
            Printer::default(),
        );
        assert!(out.starts_with("No changes."), "{out}");
        assert!(
            out.contains("\nPending in AWS (accepted, not applied yet"),
            "{out}"
        );
        assert!(
            out.contains("  module.rds.aws_db_instance.main: instance_class = \"db.t3.micro\" -> \"db.t3.small\"\n"),
            "{out}"
        );
        // Changed again before the window: the line shows what is replaced.
        let c = change(
            Action::Update,
            live,
            Attrs::from([("instance_class".to_owned(), Val::from("db.t3.large"))]),
            &["instance_class"],
        );
        let out = plan(&plan_of(vec![c]), Printer::default());
        assert!(
            out.contains(
                "~ instance_class = \"db.t3.micro\" (pending \"db.t3.small\") -> \"db.t3.large\""
            ),
            "{out}"
        );
        // What an apply leaves pending is said at its end too.
        let mut state = State::new();
        state.resources.insert(
            "module.rds.aws_db_instance.main".into(),
            crate::engine::state::ResourceState {
                type_name: "aws_db_instance".into(),
                id: "p-db".into(),
                attrs: Values::from([
                    ("allocated_storage".to_owned(), json!(20)),
                    (PENDING.to_owned(), json!({ "allocated_storage": 30 })),
                ]),
                depends_on: Vec::new(),
            },
        );
        assert_eq!(
            pending_in_state(&state),
            "\nPending in AWS (accepted, not applied yet: an RDS database applies these in its maintenance window):\n  module.rds.aws_db_instance.main: allocated_storage = 20 -> 30\n"
        );
        assert_eq!(pending_in_state(&State::new()), "");
        // Nothing pending: nothing said.
        let out = plan(
            &plan_of(vec![change(Action::NoOp, Values::new(), Attrs::new(), &[])]),
            Printer::default(),
        );
        assert!(!out.contains("Pending"), "{out}");
    }
}
