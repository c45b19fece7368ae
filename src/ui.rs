//! The one output layer: every line stackctl prints goes through here, in one of three modes.
//!
//! - **Human** (the default): Terraform's text, with colour only on a terminal, without
//!   `NO_COLOR` and without `-no-color`.
//! - **JSON** (`-json`): one JSON object per line on stdout, Terraform's machine-readable UI
//!   (`@level`, `@message`, `@module` = `terraform.ui`, `@timestamp`, `type`), so a CI job, a
//!   dashboard or a tool written for Terraform's stream reads events, not prose. Documents
//!   (`output -json`, `state show -json`) print as one JSON value.
//! - **Quiet** (`-quiet`): only results and problems: the summary line, warnings, errors and bare
//!   values; no plan body, no progress.
//!
//! Each line is written under stdout's lock, so progress from concurrent operations never
//! interleaves mid-line.

use std::io::{IsTerminal, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value as J};

/// Every event's `@module`: the name of Terraform's UI logger, which tools reading Terraform's
/// stream filter on.
pub const MODULE: &str = "terraform.ui";

/// How output is shaped, chosen once from the global flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Human,
    Json,
    Quiet,
}

/// Where every line goes: made once in `main` from the global flags and handed down, by value,
/// to the commands and operations that print (the engine reports through
/// [`crate::engine::Report`] instead).
#[derive(Clone, Copy, Debug)]
pub struct Printer {
    mode: Mode,
    colour: bool,
}

impl Default for Printer {
    /// Plain human output, no colour: what the renderers' tests compare against.
    fn default() -> Self {
        Printer {
            mode: Mode::Human,
            colour: false,
        }
    }
}

fn write_line(mut out: impl Write, s: &str) {
    let _ = writeln!(out, "{s}");
    let _ = out.flush();
}

impl Printer {
    /// The printer for `mode`; colour only in human mode, on a terminal, without `-no-color`
    /// and without `NO_COLOR`.
    pub fn new(mode: Mode, no_color: bool) -> Printer {
        let colour = mode == Mode::Human
            && !no_color
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none();
        Printer { mode, colour }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn json(&self) -> bool {
        self.mode == Mode::Json
    }

    /// Text for a person reading along: the plan's body, progress lines. Human mode only.
    pub fn detail(&self, text: &str) {
        if self.mode == Mode::Human {
            write_line(std::io::stdout().lock(), text.trim_end_matches('\n'));
        }
    }

    /// A result line (`Apply complete! ...`): human and quiet; JSON says it with an event.
    pub fn result(&self, text: &str) {
        if self.mode != Mode::Json {
            write_line(std::io::stdout().lock(), text.trim_end_matches('\n'));
        }
    }

    /// A value a script reads (`stackctl output NAME`): printed as is in every mode.
    pub fn value(&self, text: &str) {
        write_line(std::io::stdout().lock(), text);
    }

    /// Bytes a script reads exactly (`output -raw`): no newline added, in every mode.
    pub fn raw(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// One JSON document (`output -json`, `state show -json`), pretty-printed.
    pub fn document(&self, v: &J) {
        let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
        write_line(std::io::stdout().lock(), &text);
    }

    /// A warning: `Warning: ...` on stderr, or a `diagnostic` event.
    pub fn warn(&self, text: &str) {
        match self.mode {
            Mode::Json => self.diagnostic("warning", text, None),
            _ => write_line(std::io::stderr().lock(), &format!("Warning: {text}")),
        }
    }

    /// An error: `Error: ...` on stderr, or a `diagnostic` event. `address` names the resource
    /// the error is about, if any.
    pub fn error(&self, text: &str, address: Option<&str>) {
        match self.mode {
            Mode::Json => self.diagnostic("error", text, address),
            _ => {
                let head = match address {
                    Some(a) => format!("\nError: {a}\n  {}", text.replace('\n', "\n  ")),
                    None => format!("Error: {text}"),
                };
                write_line(std::io::stderr().lock(), &head)
            }
        }
    }

    /// A warning a person must read before the plan (a second stack, a legacy state): on
    /// stdout with the plan in human mode, where it has always been; a warning otherwise.
    pub fn caution(&self, text: &str) {
        match self.mode {
            Mode::Human => write_line(std::io::stdout().lock(), &format!("Warning: {text}")),
            _ => self.warn(text.trim_end()),
        }
    }

    /// A note about the run rather than its result (waiting for a lock, a test hook firing):
    /// stderr in human and quiet mode, a `log` event in JSON.
    pub fn notice(&self, text: &str) {
        match self.mode {
            Mode::Json => self.event("log", text, Map::new()),
            _ => write_line(std::io::stderr().lock(), text),
        }
    }

    fn diagnostic(&self, severity: &str, text: &str, address: Option<&str>) {
        let (summary, detail) = text.split_once('\n').unwrap_or((text, ""));
        let mut d = json!({
            "severity": severity,
            "summary": summary.trim(),
            "detail": detail.trim(),
        });
        if let Some(a) = address {
            d["address"] = J::from(a);
        }
        let mut fields = Map::new();
        fields.insert("diagnostic".into(), d);
        let level = if severity == "error" { "error" } else { "warn" };
        self.emit(
            level,
            &format!("{}: {summary}", capitalised(severity)),
            "diagnostic",
            fields,
        );
    }

    /// One machine-readable event (JSON mode only): `type` and its fields, with Terraform's
    /// `@level`, `@message`, `@module` and `@timestamp`.
    pub fn event(&self, kind: &str, message: &str, fields: Map<String, J>) {
        self.emit("info", message, kind, fields);
    }

    fn emit(&self, level: &str, message: &str, kind: &str, fields: Map<String, J>) {
        if self.mode != Mode::Json {
            return;
        }
        let mut line = Map::new();
        line.insert("@level".into(), J::from(level));
        line.insert("@message".into(), J::from(message));
        line.insert("@module".into(), J::from(MODULE));
        line.insert("@timestamp".into(), J::from(timestamp(SystemTime::now())));
        line.insert("type".into(), J::from(kind));
        line.extend(fields);
        write_line(std::io::stdout().lock(), &J::Object(line).to_string());
    }

    /// A plan symbol (`+`, `~`, `-/+`, `-`, `<=`) in Terraform's colours when colour is on.
    pub fn paint_symbol(&self, symbol: &str) -> String {
        if !self.colour {
            return symbol.to_owned();
        }
        let code = match symbol.trim() {
            "+" => "32",
            "-" => "31",
            "~" => "33",
            "-/+" => "35",
            _ => "36",
        };
        format!("\x1b[{code}m{symbol}\x1b[0m")
    }

    /// The confirmation question; the answer is read by the caller.
    pub fn prompt(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{text}");
        let _ = out.flush();
    }
}

/// The engine's warnings and notes (a stale lock taken over, a lock left behind, a test hook
/// firing) are printed as the command layer prints its own.
impl crate::engine::Report for Printer {
    fn warn(&self, text: &str) {
        Printer::warn(self, text)
    }

    fn notice(&self, text: &str) {
        Printer::notice(self, text)
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// RFC 3339 in UTC with microseconds, as Terraform stamps its JSON lines.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        // 2026-12-04T18:30:05.25Z
        let t = UNIX_EPOCH + Duration::from_millis(1_796_409_005_250);
        assert_eq!(timestamp(t), "2026-12-04T18:30:05.250000Z");
        // A leap day.
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(timestamp(t), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn colour_off_leaves_symbols_plain() {
        let ui = Printer {
            mode: Mode::Human,
            colour: false,
        };
        assert_eq!(ui.paint_symbol("-/+"), "-/+");
        let ui = Printer {
            mode: Mode::Human,
            colour: true,
        };
        assert_eq!(ui.paint_symbol("+"), "\x1b[32m+\x1b[0m");
    }
}
