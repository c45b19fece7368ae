//! What a command line clap could not parse prints: help and version as they are, in
//! Terraform's single-dash spelling; a usage error as every other error, `Error: ...` and a hint.

use std::process::ExitCode;

use crate::ui::{Mode, Printer};

/// Print clap's answer to `args` and say how the run ends: help and version are successes; a
/// usage error is Terraform's exit 1.
pub fn report(e: clap::Error, args: &[String]) -> ExitCode {
    let json = args.iter().any(|a| a == "-json" || a == "--json");
    let ui = Printer::new(if json { Mode::Json } else { Mode::Human }, true);
    if !e.use_stderr() {
        // Help and version: stdout, as clap prints them, with Terraform's `-flag`.
        let help: Vec<String> = e.render().to_string().lines().map(help_line).collect();
        ui.raw(&(help.join("\n") + "\n"));
        return ExitCode::SUCCESS;
    }
    // A Terraform flag or command stackctl lacks is named as such, with what to use.
    let message = super::unsupported_flags::explain(args.get(1..).unwrap_or_default())
        .unwrap_or_else(|| usage_error(e));
    ui.error(&message, None);
    ExitCode::FAILURE
}

/// Clap's usage error in stackctl's shape: without its `error:` (the Printer writes `Error:`),
/// its tips as hints, every flag as the user types it.
fn usage_error(e: clap::Error) -> String {
    let text = super::terraform_spelling(e).render().to_string();
    let text = text.trim_start_matches("error: ").trim_end();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let mut out: Vec<String> = lines.next().map(str::to_owned).into_iter().collect();
    for l in lines {
        let l = l.trim_start();
        if l.starts_with("For more information") {
            continue;
        }
        out.push(match (l.strip_prefix("tip: "), l.strip_prefix("Usage: ")) {
            (Some(tip), _) => format!("  hint: {tip}"),
            (_, Some(usage)) => format!("  Usage: {usage} (-help lists every flag)"),
            _ => format!("  {l}"),
        });
    }
    single_dash(&out.join("\n"))
}

/// `--flag` as Terraform and the README spell it, `-flag`; a bare `--` (what follows is the
/// container's command) stays.
pub fn single_dash(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev = ' ';
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let starts_flag =
            c == '-' && !(prev.is_alphanumeric() || prev == '-') && chars.peek() == Some(&'-') && {
                let mut ahead = chars.clone();
                ahead.next();
                ahead.next().is_some_and(|n| n.is_ascii_lowercase())
            };
        if starts_flag {
            // Drop the first dash; the second is written next.
            prev = c;
            continue;
        }
        out.push(c);
        prev = c;
    }
    out
}

/// One line of help in single-dash spelling, its description column kept where clap put it:
/// the dashes taken out of the flags are given back as spaces before the description.
fn help_line(line: &str) -> String {
    let short = single_dash(line);
    let dropped = line.len() - short.len();
    if dropped == 0 || !line.trim_start().starts_with('-') {
        return short;
    }
    match short.trim_start().find("  ") {
        Some(at) => {
            let at = at + (short.len() - short.trim_start().len());
            format!("{}{}{}", &short[..at], " ".repeat(dropped), &short[at..])
        }
        None => short,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_flags_lose_a_dash_and_a_bare_double_dash_stays() {
        assert_eq!(
            single_dash("  -f, --follow   Keep [--json] run -- <COMMAND> try '--help'. a--b"),
            "  -f, -follow   Keep [-json] run -- <COMMAND> try '-help'. a--b"
        );
        assert_eq!(
            help_line("  -f, --follow          Keep printing"),
            "  -f, -follow           Keep printing"
        );
        assert_eq!(
            help_line("      --json   Machine"),
            "      -json    Machine"
        );
        assert_eq!(
            help_line("                 or --json"),
            "                 or -json"
        );
    }
}
