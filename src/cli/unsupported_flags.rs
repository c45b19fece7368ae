//! Terraform flags and commands stackctl does not have, each with what to use instead, so a
//! Terraform habit gets an answer in its own words rather than clap's "unexpected argument".
//!
//! Self-contained (no `crate::` paths): `tests/habits.rs` includes this file to try every entry
//! against the real binary. When a flag lands in stackctl, delete its line here.

/// Why stackctl lacks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Planned: a later version brings it.
    NotYet,
    /// By design, for this reason.
    Never(&'static str),
}

/// One Terraform flag (without its dash) or command stackctl lacks.
#[derive(Clone, Copy, Debug)]
pub struct Missing {
    pub name: &'static str,
    pub status: Status,
    /// What to do instead, said as a `hint:` line.
    pub instead: &'static str,
}

const fn yet(name: &'static str, instead: &'static str) -> Missing {
    Missing {
        name,
        status: Status::NotYet,
        instead,
    }
}

const fn never(name: &'static str, why: &'static str, instead: &'static str) -> Missing {
    Missing {
        name,
        status: Status::Never(why),
        instead,
    }
}

/// Terraform's flags, one line each.
#[rustfmt::skip]
pub const FLAGS: &[Missing] = &[
    yet("backend-config", "put the backend settings in the var file's [backend] table (README, \"Teams: remote state\")"),
    yet("generate-config-out", "stackctl's configuration is its variables: see `stackctl validate` and examples/*.toml"),
    never("refresh", "stackctl always reads the live resources before it plans (one batched read per kind)", "drop the flag"),
    never("destroy", "destroying is its own command", "run `stackctl destroy`: it shows what it deletes and asks first"),
    never("compact-warnings", "stackctl's warnings are one line each already", "drop the flag, or use -quiet for results and problems only"),
    never("state-out", "stackctl writes the state back where it read it", "use -state PATH, and copy the file afterwards if you need it elsewhere"),
    never("backup", "stackctl always keeps the previous state as <state>.backup", "drop the flag"),
    never("upgrade", "stackctl has no providers or modules to upgrade: the AWS code is built into the binary", "drop the flag; a newer stackctl is a new binary (`stackctl version`)"),
    never("reconfigure", "stackctl reads the [backend] table on every run, so there is nothing to reconfigure", "drop the flag"),
    never("migrate-state", "only `stackctl init` takes it", "run `stackctl init -migrate-state -var-file FILE`"),
    never("get", "stackctl has no modules to download", "drop the flag"),
    never("plugin-dir", "stackctl has no provider plug-ins", "drop the flag"),
    never("force", "Terraform replaced it with -auto-approve", "use -auto-approve"),
    never("type", "`stackctl graph` prints the configuration's dependency graph only", "drop the flag"),
];

/// Terraform's commands, one line each.
#[rustfmt::skip]
pub const COMMANDS: &[Missing] = &[
    never("workspace", "each environment is its own stack and state (.stackctl/<project_name>-<environment>.json)", "use one var file per environment, such as examples/prod.toml"),
    never("fmt", "stackctl reads TOML var files, not HCL", "check them with `stackctl validate -var-file FILE`"),
    never("taint", "Terraform itself replaced it with -replace", "run `stackctl apply -replace ADDRESS`: the plan shows the replacement before anything changes"),
    never("untaint", "nothing is ever marked tainted", "drop the command"),
    never("providers", "the AWS SDK is built into stackctl", "run `stackctl version`"),
    never("console", "there are no HCL expressions to evaluate", "`stackctl output -json` and `stackctl state show ADDRESS` print the values"),
    never("login", "AWS credentials come from the usual chain (environment, profile, SSO, instance role)", "set AWS_PROFILE or run `aws sso login`"),
];

impl Missing {
    /// The error a user sees, `given` being the flag as typed (`-refresh=false`) or the command.
    pub fn message(&self, given: &str, is_command: bool) -> String {
        let what = if is_command { "command" } else { "flag" };
        match self.status {
            Status::NotYet => format!(
                "{given} is a Terraform {what} stackctl does not support yet in this version\n  hint: {}",
                self.instead
            ),
            Status::Never(why) => format!(
                "{given} is a Terraform {what} stackctl does not have: {why}\n  hint: {}",
                self.instead
            ),
        }
    }
}

/// The flag's name in `arg` (`-refresh=false`, `--out`), if it is a flag.
fn flag_name(arg: &str) -> Option<&str> {
    let rest = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    let name = rest.split('=').next().unwrap_or_default();
    (!name.is_empty()).then_some(name)
}

/// The flag as the message repeats it: its name, and its value only when that is a boolean
/// (`-refresh=false`), so a value such as `-backend-config=secret_key=...` is never echoed.
fn as_typed(arg: &str, name: &str) -> String {
    match arg.split_once('=') {
        Some((_, v @ ("true" | "false"))) => format!("-{name}={v}"),
        _ => format!("-{name}"),
    }
}

/// Explain the first Terraform flag or command of `args` (without the program name) that
/// stackctl lacks. Called once clap has refused the arguments, so a value that merely looks
/// like a flag (`-filter -out`) is never misread on a valid command line.
pub fn explain<S: AsRef<str>>(args: &[S]) -> Option<String> {
    let args: Vec<&str> = args
        .iter()
        .map(AsRef::as_ref)
        .take_while(|a| *a != "--")
        .collect();
    for arg in &args {
        if let Some(name) = flag_name(arg) {
            if let Some(m) = FLAGS.iter().find(|m| m.name == name) {
                return Some(m.message(&as_typed(arg, name), false));
            }
        }
    }
    // The command is the first word that is neither a flag nor -chdir's value.
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        if flag_name(a) == Some("chdir") && !a.contains('=') {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            if let Some(m) = COMMANDS.iter().find(|m| m.name == a) {
                return Some(m.message(a, true));
            }
            // Terraform takes -chdir before the command only, and so does stackctl.
            if args[i + 1..].iter().any(|x| flag_name(x) == Some("chdir")) {
                return Some(format!(
                    "-chdir goes before the command, as in Terraform\n  hint: stackctl -chdir=DIR {a} ..."
                ));
            }
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_named_as_typed_without_their_values() {
        let m = explain(&["plan", "-refresh=false"]).unwrap();
        assert!(m.starts_with("-refresh=false is a Terraform flag stackctl does not have: "));
        let m = explain(&["init", "-backend-config=secret_key=abc"]).unwrap();
        assert!(m.starts_with("-backend-config is a Terraform flag stackctl does not support yet"));
        assert!(!m.contains("abc"));
        assert!(explain(&["-chdir", "workspace", "workspace"])
            .unwrap()
            .starts_with("workspace is a Terraform command"));
        assert_eq!(explain(&["plan", "--", "-out"]), None);
        assert!(explain(&["plan", "-chdir=infra"])
            .unwrap()
            .starts_with("-chdir goes before the command"));
        assert_eq!(explain(&["plan", "-var-file", "x"]), None);
    }

    #[test]
    fn every_entry_is_unique_and_has_a_hint() {
        for table in [FLAGS, COMMANDS] {
            let mut names: Vec<&str> = table.iter().map(|m| m.name).collect();
            names.sort_unstable();
            let n = names.len();
            names.dedup();
            assert_eq!(n, names.len(), "a name appears twice");
        }
        assert!(FLAGS.iter().chain(COMMANDS).all(|m| !m.instead.is_empty()));
    }
}
