//! `stackctl logs [-f] [-since 1h] [-filter PATTERN] [-task ID]`: the containers' log events
//! from CloudWatch Logs, found from the state as `output` finds it; no password needed.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;
use stackctl_ecs::log_events::{self, Follow, LogEvent, LogQuery, LogReader};

use crate::aws;
use crate::cli::args::{parse_duration, EndpointArgs, LocateArgs};
use crate::engine::render::fields;
use crate::ui::{self, Printer};

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep printing new events as they arrive, until Ctrl-C
    #[arg(short = 'f', long = "follow")]
    pub follow: bool,
    /// How far back to start, such as 30s, 10m, 1h or 2d
    #[arg(long = "since", value_name = "AGE", default_value = "10m", value_parser = parse_duration)]
    pub since: Duration,
    /// Only events matching this CloudWatch Logs filter pattern, such as ERROR or "PHP Fatal"
    #[arg(long = "filter", value_name = "PATTERN")]
    pub filter: Option<String>,
    /// Only this task's events (its id, the last part of its ARN)
    #[arg(long = "task", value_name = "ID")]
    pub task: Option<String>,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub locate: LocateArgs,
}

/// How often `-f` asks for new events (`aws logs tail --follow` polls about as often).
const POLL: Duration = Duration::from_secs(2);

pub async fn exec(args: LogsArgs, ui: Printer) -> Result<ExitCode> {
    let store = super::store(&args.locate, args.endpoint.endpoint_url.as_deref()).await?;
    let path = store.message_path();
    let state = store.load_existing().await?;
    let attr = |address: &str, key: &str| -> Option<String> {
        state
            .resources
            .get(address)?
            .attrs
            .get(key)?
            .as_str()
            .map(str::to_owned)
    };
    let (Some(group), Some(location)) = (attr(stackctl_ecs::LOG_GROUP, "name"), state.aws.as_ref())
    else {
        bail!(
            "{} has no log group: the stack is not applied yet\n  hint: run `stackctl apply` first",
            path.display()
        );
    };
    let stream = match &args.task {
        None => None,
        Some(task) => {
            let td = stackctl_ecs::TASK_DEFINITION;
            let (Some(prefix), Some(container)) =
                (attr(td, "log_stream_prefix"), attr(td, "container_name"))
            else {
                bail!("{} has no task definition to name the task's log stream\n  hint: run `stackctl apply` first", path.display());
            };
            Some(log_events::task_stream(&prefix, &container, task))
        }
    };
    let sdk = aws::sdk_config(&location.region, args.endpoint.endpoint_url.as_deref()).await;
    let reader = LogReader::new(&sdk);
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    let mut query = LogQuery {
        group,
        since_ms: now_ms - args.since.as_millis() as i64,
        filter: args.filter,
        stream,
    };
    let mut follow = Follow::new(query.since_ms);
    // Ctrl-C is how -f ends (engine::interrupt): this loop handles it.
    let _handling = args
        .follow
        .then(|| crate::engine::interrupt::handling(|| {}));
    loop {
        let events = reader
            .read(&query)
            .await
            .with_context(|| format!("reading log group {}", query.group))?;
        follow.fresh(events).iter().for_each(|e| print(ui, e));
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        query.since_ms = follow.since_ms();
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            // Ctrl-C is how -f ends: a success, as for `tail -f`.
            () = crate::engine::interrupt::stopped() => return Ok(ExitCode::SUCCESS),
        }
    }
}

fn print(ui: Printer, e: &LogEvent) {
    if ui.json() {
        json_event(ui, e);
    } else {
        ui.value(&format!("{} {} {}", time(e), e.task(), e.message));
    }
}

/// When the event happened, as every line and event shows it.
fn time(e: &LogEvent) -> String {
    ui::timestamp(UNIX_EPOCH + Duration::from_millis(e.timestamp_ms.max(0) as u64))
}

/// One `log_event` of the `-json` stream (`logs` and `run` print the same).
pub(super) fn json_event(ui: Printer, e: &LogEvent) {
    ui.event(
        "log_event",
        &e.message,
        fields([
            ("timestamp", json!(time(e))),
            ("task", json!(e.task())),
            ("stream", json!(e.stream)),
        ]),
    );
}
