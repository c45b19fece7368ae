//! `stackctl run [-timeout 30m] -- COMMAND...`: a one-off task of the service (PrestaShop's
//! console, a cache clear, a database check) with its log printed as it runs, exiting with the
//! container's exit code; found from the state as `output` finds it, no password needed.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use serde_json::json;
use stackctl_ecs::{OneOff, Seen};

use crate::cli::args::{parse_duration, EndpointArgs, LocateArgs};
use crate::engine::render::fields;
use crate::ui::{Mode, Printer};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The longest the task may take, start included, such as 30m or 2h; it is stopped then
    #[arg(long = "timeout", value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub locate: LocateArgs,
    /// The command and its arguments, after `--`, such as -- php bin/console cache:clear
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

pub async fn exec(args: RunArgs, ui: Printer) -> Result<ExitCode> {
    let store = super::store(&args.locate, args.endpoint.endpoint_url.as_deref()).await?;
    let state = store.load_existing().await?;
    let super::Applied {
        cluster,
        service,
        sdk,
    } = super::applied(&state, &store, args.endpoint.endpoint_url.as_deref()).await?;
    let job = OneOff {
        cluster: &cluster,
        service: &service,
        command: &args.command,
        timeout: args.timeout,
    };
    let started = Instant::now();
    // The first Ctrl-C stops the task (StopTask) before returning (engine::interrupt).
    let _handling = crate::engine::interrupt::handling(|| {});
    let finished = stackctl_ecs::run_task(
        &sdk,
        &job,
        |seen| show(ui, seen),
        crate::engine::interrupt::stopped(),
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    let code = finished.exit_code;
    ui.event(
        "run_complete",
        &format!("Task {} exited with code {code}", finished.task),
        fields([
            ("task", json!(finished.task)),
            ("exit_code", json!(code)),
            ("elapsed_seconds", json!(seconds)),
        ]),
    );
    if ui.mode() == Mode::Human {
        // On stderr: stdout carries the command's own output, for a pipe or a file.
        ui.notice(&format!(
            "Task {} exited with code {code} ({seconds:.1}s).",
            finished.task
        ));
    }
    // A container's exit code is 0..=255; anything else is not a success either.
    Ok(u8::try_from(code).map_or(ExitCode::FAILURE, ExitCode::from))
}

/// What the task does, as it happens: its log lines on stdout (bare, as the command printed
/// them), its progress on stderr.
fn show(ui: Printer, seen: Seen<'_>) {
    match seen {
        Seen::Started { task, stream } => {
            ui.event(
                "run_started",
                &format!("Started task {task}"),
                fields([("task", json!(task)), ("stream", json!(stream))]),
            );
            match stream {
                Some(stream) if ui.mode() == Mode::Human => {
                    ui.notice(&format!("Started task {task} (log stream {stream})."))
                }
                Some(_) => {}
                None => ui.warn(&format!(
                    "the task definition does not log with awslogs, so the output of task {task} cannot be shown\n  its exit code still counts"
                )),
            }
        }
        Seen::Status(status) => {
            ui.event(
                "run_status",
                &format!("Task {status}"),
                fields([("status", json!(status))]),
            );
            if ui.mode() == Mode::Human {
                let more = if status == "STOPPED" { "." } else { "..." };
                ui.notice(&format!("Task {status}{more}"));
            }
        }
        Seen::Log(e) => {
            if ui.json() {
                super::logs::json_event(ui, e);
            } else {
                ui.value(&e.message);
            }
        }
        Seen::LogUnreadable(err) => ui.warn(&format!(
            "the task's log cannot be read, so its output is not shown: {err}\n  the task goes on; its exit code still counts"
        )),
    }
}
