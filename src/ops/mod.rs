//! The operations behind the commands, one per file as cargo's `ops/`: open a session
//! ([`session`]: variables, state, lock, AWS), [`plan`], [`apply`], [`destroy`], [`refresh`],
//! [`import`], [`show`]. Command files only fill the options and call these; what they print
//! goes through the [`Printer`] they are handed.

pub mod apply;
pub mod destroy;
pub mod import;
pub mod locate;
pub mod plan;
pub mod refresh;
pub mod saved_plan;
pub mod session;
pub mod show;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};

use crate::ui::Printer;

/// A JSON stream has no room for the confirmation prompt: apply and destroy with `-json` must
/// be approved on the command line, as Terraform requires.
pub fn json_needs_auto_approve(ui: Printer, command: &str, auto_approve: bool) -> Result<()> {
    if ui.json() && !auto_approve {
        bail!("-json needs -auto-approve for {command}: a JSON stream cannot carry the confirmation prompt\n  hint: review the plan with `stackctl plan -json`, then run `stackctl {command} -json -auto-approve`");
    }
    Ok(())
}

/// `-input=false`: never ask (a CI job with a terminal must not hang on a prompt).
static NO_INPUT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_input(input: bool) {
    NO_INPUT.store(!input, std::sync::atomic::Ordering::Relaxed);
}

/// What every command that touches AWS takes.
pub struct Options {
    pub var_files: Vec<PathBuf>,
    pub vars: Vec<String>,
    pub state: Option<PathBuf>,
    pub lock_timeout: Duration,
    pub endpoint_url: Option<String>,
    /// Whether the full, checked variables are needed (plan, apply) or only enough to find the
    /// state (destroy, which takes its region from the state).
    pub needs_vars: bool,
    /// `-lock=false` turns this off: no lock on the state, with a warning.
    pub lock: bool,
    /// `-parallelism`: at most this many changes at once (10 if not given, as in Terraform);
    /// when given, plan's reads are bounded too, else they are all sent at once.
    pub parallelism: Option<usize>,
}

/// Ask for `yes` on a terminal; refuse without one unless auto-approved.
pub fn confirm(ui: Printer, question: &str, auto_approve: bool) -> Result<bool> {
    if auto_approve {
        return Ok(true);
    }
    if NO_INPUT.load(std::sync::atomic::Ordering::Relaxed) {
        bail!("-input=false: stackctl may not ask for confirmation, and -auto-approve was not given\n  hint: review the plan with `stackctl plan`, then run again with -auto-approve");
    }
    if !std::io::stdin().is_terminal() {
        bail!("stdin is not a terminal, so the plan cannot be confirmed\n  hint: review it with `stackctl plan`, then run again with -auto-approve");
    }
    ui.prompt(&format!(
        "\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    ));
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
