//! How stackctl's `tracing` events reach the user: warnings as Terraform's `Warning: ...`
//! through the Printer (a `diagnostic` event with -json), and debug logs under `STACKCTL_LOG`.

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::ui::Printer;

/// `stackctl` as a target is a prefix: it covers the binary and every module crate
/// (`stackctl_alb`, ...), so a new module needs no line here.
const OURS: &str = "stackctl";

/// Warnings (and errors) of stackctl's own code always reach the user, in the Printer's words:
/// a user never sees a raw `WARN stackctl_ecs::service:` line.
///
/// `STACKCTL_LOG=debug` turns on stackctl's own debug logs (to stderr); a full filter such as
/// `STACKCTL_LOG=aws_smithy_runtime=debug` is passed through as is.
pub fn init(ui: Printer) {
    let spec = std::env::var("STACKCTL_LOG").unwrap_or_default();
    let warnings = WarningLayer { ui }.with_filter(filter_fn(|meta| {
        meta.target().starts_with(OURS) && *meta.level() <= Level::WARN
    }));
    // The AWS SDK's own warnings (a credential provider that failed before the next one
    // succeeded, a retried request) carry `Debug` dumps of raw responses: they stay off unless
    // asked for with a full filter. stackctl reports what matters in its own words.
    let debug = (!spec.is_empty()).then(|| {
        let filter = if spec.contains('=') || spec.contains(',') {
            spec
        } else {
            format!("off,{OURS}={spec}")
        };
        // Colour only for a person at a terminal, never in a CI log or a file, and never with
        // NO_COLOR set (no-color.org).
        use std::io::IsTerminal;
        let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        tracing_subscriber::fmt::layer()
            .with_ansi(colour)
            .with_writer(std::io::stderr)
            .with_filter(EnvFilter::new(filter))
            // Ours are printed by the warning layer already.
            .with_filter(filter_fn(|meta| {
                !(meta.target().starts_with(OURS) && *meta.level() <= Level::WARN)
            }))
    });
    let _ = tracing_subscriber::registry()
        .with(warnings)
        .with(debug)
        .try_init();
}

/// Prints each event it is given as a warning: its message, then its other fields.
struct WarningLayer {
    ui: Printer,
}

impl<S: Subscriber> Layer<S> for WarningLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut text = Text::default();
        event.record(&mut text);
        self.ui.warn(&text.line());
    }
}

/// `message (key: value) ...`, whichever order the fields come in.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Text {
    fn line(self) -> String {
        format!("{}{}", self.message, self.fields)
    }
}

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " ({}: {value:?})", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_reads_as_its_message_then_its_fields() {
        struct Capture(std::sync::Arc<std::sync::Mutex<Vec<String>>>);
        impl<S: Subscriber> Layer<S> for Capture {
            fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
                let mut text = Text::default();
                event.record(&mut text);
                self.0.lock().unwrap().push(text.line());
            }
        }
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Capture(seen.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(count = 1, "ECS service {}: kept", "web");
        });
        assert_eq!(*seen.lock().unwrap(), ["ECS service web: kept (count: 1)"]);
    }
}
