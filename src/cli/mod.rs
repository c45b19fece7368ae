//! Command-line interface: clap derive, with Terraform's single-dash long flags accepted too.
//! The global flags are here; each command's own flags are beside its `exec` in
//! `commands/`, the groups they share in [`args`], the Terraform flags stackctl lacks in
//! [`unsupported_flags`].

pub mod args;
pub mod unsupported_flags;
pub mod usage;

use std::path::PathBuf;

use clap::Parser;

use crate::commands::Command;
use crate::ui::{Mode, Printer};

/// Plan, apply and destroy the PrestaShop-on-Fargate AWS stack, without Terraform.
///
/// Variables come from TOML var files (-var-file), -var KEY=VALUE and STACKCTL_VAR_<name>
/// environment variables. AWS credentials come from the usual chain (environment, profile, SSO,
/// instance role); AWS_ENDPOINT_URL or -endpoint-url points every client at another endpoint.
#[derive(Debug, Parser)]
#[command(name = "stackctl", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Machine-readable output: one JSON event per line (plan, progress, summary, errors), or
    /// one JSON document (output, state list/show, validate)
    #[arg(long = "json", global = true)]
    pub json: bool,
    /// Print only results, warnings and errors: no plan details, no progress lines
    #[arg(long = "quiet", global = true, conflicts_with = "json")]
    pub quiet: bool,
    /// No colour, even on a terminal (NO_COLOR does the same)
    #[arg(long = "no-color", global = true)]
    pub no_color: bool,
    /// Never ask anything (-input=false): apply and destroy then need -auto-approve
    #[arg(long = "input", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub input: bool,
    /// Switch to this directory before anything else, as Terraform's -chdir (before the command)
    #[arg(long = "chdir", value_name = "DIR")]
    pub chdir: Option<PathBuf>,
}

impl Cli {
    /// The one printer of this run, from the global flags.
    pub fn printer(&self) -> Printer {
        let mode = match (self.json, self.quiet) {
            (true, _) => Mode::Json,
            (false, true) => Mode::Quiet,
            (false, false) => Mode::Human,
        };
        Printer::new(mode, self.no_color)
    }
}

/// Long flags that Terraform spells with one dash; `-var-file x` becomes `--var-file x`.
const LONG_FLAGS: &[&str] = &[
    "var-file",
    "var",
    "state",
    "lock-timeout",
    "endpoint-url",
    "detailed-exitcode",
    "auto-approve",
    "wait",
    "wait-timeout",
    "json",
    "follow",
    "since",
    "filter",
    "task",
    "to",
    "timeout",
    "quiet",
    "no-color",
    "help",
    "version",
    "bucket",
    "dynamodb-table",
    "migrate-state",
    "force",
];

/// Rewrite Terraform's single-dash long flags to clap's double-dash form (clap would read
/// `-var-file` as the short flags -v -a -r ...). Everything after `--` is left alone.
///
/// A single-dash word that is not in [`LONG_FLAGS`] is rewritten too: stackctl's only short
/// flags are `-f`, `-h` and `-V`, each used alone, so `-raw` or `-out` is a long flag stackctl
/// lacks. Clap then reports it by its name (and the Terraform flag table can explain it), not
/// as an unknown `-r` to be passed as `-- -r`.
pub fn normalize_args<I: IntoIterator<Item = String>>(args: I) -> Vec<String> {
    let mut out = Vec::new();
    let mut passthrough = false;
    for a in args {
        if a == "--" {
            passthrough = true;
        }
        if !passthrough && a.starts_with('-') && !a.starts_with("--") {
            let name = a[1..].split('=').next().unwrap_or_default();
            if LONG_FLAGS.contains(&name) || looks_long(name) {
                out.push(format!("-{a}"));
                continue;
            }
        }
        out.push(a);
    }
    out
}

/// `refresh`, `out`, `state-out`: a lowercase word of two or more letters, digits and hyphens.
fn looks_long(name: &str) -> bool {
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// A usage error in Terraform's spelling: clap names flags as `--flag`, and suggests passing an
/// unknown one after `--`, which makes no sense for a Terraform flag; the user typed `-flag`.
pub fn terraform_spelling(mut e: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue};
    let single = |s: &str| match s.strip_prefix("--") {
        Some(rest) if !rest.is_empty() => format!("-{rest}"),
        _ => s.to_owned(),
    };
    let mut edits = Vec::new();
    for (kind, value) in e.context() {
        match (kind, value) {
            (ContextKind::Suggested, ContextValue::StyledStrs(tips)) => {
                let kept = tips
                    .iter()
                    .filter(|t| !t.to_string().contains("as a value, use '--"))
                    .cloned()
                    .collect();
                edits.push((kind, ContextValue::StyledStrs(kept)));
            }
            (ContextKind::InvalidArg | ContextKind::PriorArg, ContextValue::String(s)) => {
                // `--lock <BOOL>`: only the flag's own name is respelled.
                let (flag, rest) = s.split_once(' ').unwrap_or((s.as_str(), ""));
                let fixed = if rest.is_empty() {
                    single(flag)
                } else {
                    format!("{} {rest}", single(flag))
                };
                edits.push((kind, ContextValue::String(fixed)));
            }
            (ContextKind::Usage, ContextValue::StyledStr(usage)) => {
                let text = usage::single_dash(&usage.to_string());
                edits.push((kind, ContextValue::StyledStr(text.into())));
            }
            (ContextKind::SuggestedArg, ContextValue::String(s)) => {
                edits.push((kind, ContextValue::String(single(s))));
            }
            (ContextKind::SuggestedArg, ContextValue::Strings(v)) => {
                edits.push((
                    kind,
                    ContextValue::Strings(v.iter().map(|s| single(s)).collect()),
                ));
            }
            _ => {}
        }
    }
    for (kind, value) in edits {
        e.insert(kind, value);
    }
    e
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::commands::state::StateCommand;

    #[test]
    fn single_dash_long_flags_are_accepted() {
        let args = normalize_args(
            [
                "stackctl",
                "plan",
                "-var-file",
                "dev.toml",
                "-var=desired_count=3",
                "-detailed-exitcode",
                "-h",
            ]
            .map(String::from),
        );
        assert_eq!(
            args,
            [
                "stackctl",
                "plan",
                "--var-file",
                "dev.toml",
                "--var=desired_count=3",
                "--detailed-exitcode",
                "-h"
            ]
        );
        let cli = Cli::try_parse_from(args.iter().filter(|a| *a != "-h")).unwrap();
        match cli.command {
            Command::Plan(p) => {
                assert_eq!(p.vars.var_files, vec![PathBuf::from("dev.toml")]);
                assert_eq!(p.vars.vars, vec!["desired_count=3".to_owned()]);
                assert!(p.detailed_exitcode);
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn state_and_force_unlock_parse_with_terraform_flags() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(normalize_args(
                std::iter::once("stackctl")
                    .chain(args.iter().copied())
                    .map(String::from),
            ))
        };
        match parse(&[
            "state",
            "rm",
            "a.b",
            "c.d",
            "-state",
            "s.json",
            "-lock-timeout",
            "1m",
        ])
        .unwrap()
        .command
        {
            Command::State(StateCommand::Rm(a)) => {
                assert_eq!(a.addresses, ["a.b", "c.d"]);
                assert_eq!(a.locate.state, Some(PathBuf::from("s.json")));
                assert_eq!(a.lock.timeout.lock_timeout, Duration::from_secs(60));
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(parse(&["state", "rm"]).is_err(), "rm needs an address");
        match parse(&["force-unlock", "abc", "-var-file", "dev.toml"])
            .unwrap()
            .command
        {
            Command::ForceUnlock(a) => {
                assert_eq!(a.id, "abc");
                assert_eq!(a.locate.vars.var_files, [PathBuf::from("dev.toml")]);
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn unknown_single_dash_words_are_long_flags_in_errors() {
        let args = normalize_args(
            ["stackctl", "logs", "-f", "-raw", "-V", "--", "-out"].map(String::from),
        );
        assert_eq!(
            args,
            ["stackctl", "logs", "-f", "--raw", "-V", "--", "-out"]
        );
        let e = Cli::try_parse_from(normalize_args(
            ["stackctl", "output", "-rew", "x"].map(String::from),
        ))
        .unwrap_err();
        let text = terraform_spelling(e).to_string();
        assert!(text.contains("unexpected argument '-rew' found"), "{text}");
        assert!(text.contains("a similar argument exists: '-raw'"), "{text}");
        assert!(!text.contains("-- "), "{text}");
    }

    #[test]
    fn terraform_globals_parse() {
        let cli = Cli::try_parse_from(normalize_args(
            [
                "stackctl",
                "-chdir=infra",
                "apply",
                "-input=false",
                "-lock=false",
                "-parallelism=1",
            ]
            .map(String::from),
        ))
        .unwrap();
        assert_eq!(cli.chdir, Some(PathBuf::from("infra")));
        assert!(!cli.input);
        match cli.command {
            Command::Apply(a) => {
                assert!(!a.change.state.lock);
                assert_eq!(a.change.state.parallelism, Some(1));
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["stackctl", "plan", "--parallelism=0"]).is_err());
    }
}
