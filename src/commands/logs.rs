//! `stackctl logs [-f] [-since 1h] [-filter PATTERN] [-task ID]`: the containers' log events
//! from CloudWatch Logs, found from the state as `output` finds it; no password needed.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;
use stackctl_ecs::log_events::{self, Follow, LogEvent, LogQuery, LogReader, PAGES_PER_READ};

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

/// Pages `logs` without -f reads at most: 20 pages of up to 10,000 events each; past that,
/// it says what it left out rather than using up the account's read quota.
const PAGES: usize = 4 * PAGES_PER_READ;

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
    let mut query = LogQuery {
        group,
        since_ms: now_ms() - args.since.as_millis() as i64,
        filter: args.filter,
        stream,
    };
    let what = describe(&query, args.since);
    if !args.follow {
        let batch = reader
            .pages(&query, None, PAGES)
            .await
            .with_context(|| format!("reading log group {}", query.group))?;
        batch.events.iter().for_each(|e| print(ui, e));
        if batch.events.is_empty() {
            ui.notice(&format!("No log events {what}.\n  hint: -since 1h looks further back; `stackctl status` says whether tasks run"));
        } else if batch.more.is_some() {
            ui.warn(&format!("more events {what} than {PAGES} pages: these are the oldest ones\n  hint: a shorter -since, a -filter or a -task shows the rest"));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut follow = Follow::new(query.since_ms);
    // Ctrl-C is how -f ends (engine::interrupt): this loop handles it.
    let _handling = crate::engine::interrupt::handling(|| {});
    let mut said_empty = false;
    let mut said_throttled = false;
    loop {
        query.since_ms = follow.since_ms();
        let started = now_ms();
        match reader.pages(&query, follow.token(), PAGES_PER_READ).await {
            Ok(batch) => {
                let fresh = follow.read(started, batch);
                fresh.iter().for_each(|e| print(ui, e));
                if fresh.is_empty() && !said_empty {
                    ui.notice(&format!(
                        "No log events {what} yet; waiting for new ones (Ctrl-C stops)."
                    ));
                }
                said_empty = true;
            }
            // Throttled past the reader's patience, or AWS out of reach for a while: -f reads
            // less often and goes on; it is for watching, and a later read catches up.
            Err(e) if log_events::throttled(&e) => {
                follow.throttled();
                if !said_throttled {
                    ui.warn(&format!(
                        "reading log group {} was refused for now ({}); reading every {}s until it goes through",
                        query.group,
                        e.code.as_deref().unwrap_or(&e.message),
                        follow.pause().as_secs()
                    ));
                    said_throttled = true;
                }
            }
            Err(e) => {
                return Err(anyhow::Error::new(e))
                    .with_context(|| format!("reading log group {}", query.group))
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(follow.pause()) => {}
            // Ctrl-C is how -f ends: a success, as for `tail -f`.
            () = crate::engine::interrupt::stopped() => return Ok(ExitCode::SUCCESS),
        }
    }
}

/// `in log group G since 10m (matching P, of task T)`, for the notes.
fn describe(q: &LogQuery, since: Duration) -> String {
    let mut s = format!("in log group {} in the last {}", q.group, age(since));
    if let Some(f) = &q.filter {
        s.push_str(&format!(" matching {f:?}"));
    }
    if let Some(stream) = &q.stream {
        s.push_str(&format!(" in stream {stream}"));
    }
    s
}

/// `10m`, `1h30m`, `45s`: an age as -since takes it.
fn age(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push_str(&format!("{sec}s"));
    }
    out
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
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
