//! Reading the containers' log events for `stackctl logs`: one query over a time range, and the
//! follow loop's bookkeeping (which events were already printed).

use std::collections::HashMap;

use aws_sdk_cloudwatchlogs::Client;
use stackctl_contract::{aws_error, ResourceError};

/// Which events to read.
#[derive(Clone, Debug, Default)]
pub struct LogQuery {
    /// The log group (`/ecs/<project>-<environment>`).
    pub group: String,
    /// Only events at or after this time, in milliseconds since the epoch.
    pub since_ms: i64,
    /// A CloudWatch Logs filter pattern (`ERROR`, `"PHP Fatal"`), as `aws logs tail
    /// --filter-pattern` takes it.
    pub filter: Option<String>,
    /// Only this stream (one task's: `<prefix>/<container>/<task id>`).
    pub stream: Option<String>,
}

/// One event, as the command prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEvent {
    pub id: String,
    pub timestamp_ms: i64,
    pub stream: String,
    pub message: String,
}

impl LogEvent {
    /// The task id, the last part of an ECS awslogs stream name.
    pub fn task(&self) -> &str {
        self.stream.rsplit('/').next().unwrap_or(&self.stream)
    }
}

/// The stream an ECS task's container writes to with the awslogs driver.
pub fn task_stream(prefix: &str, container: &str, task_id: &str) -> String {
    format!("{prefix}/{container}/{task_id}")
}

/// Reads the stack's log events with the module's own CloudWatch Logs client.
pub struct LogReader {
    logs: Client,
}

impl LogReader {
    pub fn new(sdk: &aws_types::SdkConfig) -> LogReader {
        LogReader {
            logs: Client::new(sdk),
        }
    }

    /// A reader on a client the module already has.
    pub fn from_client(logs: Client) -> LogReader {
        LogReader { logs }
    }

    /// Every event `q` matches, oldest first, across all pages.
    pub async fn read(&self, q: &LogQuery) -> Result<Vec<LogEvent>, ResourceError> {
        read(&self.logs, q).await
    }
}

async fn read(logs: &Client, q: &LogQuery) -> Result<Vec<LogEvent>, ResourceError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = logs
            .filter_log_events()
            .log_group_name(&q.group)
            .start_time(q.since_ms)
            .set_filter_pattern(q.filter.clone())
            .set_log_stream_names(q.stream.clone().map(|s| vec![s]))
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| aws_error("FilterLogEvents", e))?;
        out.extend(page.events().iter().map(|e| LogEvent {
            id: e.event_id().unwrap_or_default().to_owned(),
            timestamp_ms: e.timestamp().unwrap_or_default(),
            stream: e.log_stream_name().unwrap_or_default().to_owned(),
            message: e.message().unwrap_or_default().trim_end().to_owned(),
        }));
        match page.next_token() {
            // Some implementations hand back the token they were given at the end.
            Some(t) if token.as_deref() != Some(t) => token = Some(t.to_owned()),
            _ => break,
        }
    }
    out.sort_by_key(|e| e.timestamp_ms);
    Ok(out)
}

/// What `-f` has printed: each poll asks again from the newest timestamp seen (events can
/// arrive late with an older timestamp than the newest, within the same millisecond or a few
/// seconds behind), and drops the events it already showed.
#[derive(Debug, Default)]
pub struct Follow {
    /// Event id -> timestamp, for the events inside the look-back window.
    seen: HashMap<String, i64>,
    newest_ms: i64,
}

/// How far behind the newest event a late one may arrive: CloudWatch Logs indexes events
/// a few seconds after they are put, and tasks' clocks differ.
const LATE_MS: i64 = 10_000;

impl Follow {
    pub fn new(since_ms: i64) -> Follow {
        Follow {
            seen: HashMap::new(),
            newest_ms: since_ms,
        }
    }

    /// Where the next poll starts.
    pub fn since_ms(&self) -> i64 {
        (self.newest_ms - LATE_MS).max(0)
    }

    /// The events not shown yet, in order; remembers them.
    pub fn fresh(&mut self, events: Vec<LogEvent>) -> Vec<LogEvent> {
        let fresh: Vec<LogEvent> = events
            .into_iter()
            .filter(|e| self.seen.insert(e.id.clone(), e.timestamp_ms).is_none())
            .collect();
        if let Some(max) = fresh.iter().map(|e| e.timestamp_ms).max() {
            self.newest_ms = self.newest_ms.max(max);
        }
        // An event older than the next poll's start cannot come back: forget it.
        let floor = self.since_ms();
        self.seen.retain(|_, ts| *ts >= floor);
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, ms: i64) -> LogEvent {
        LogEvent {
            id: id.into(),
            timestamp_ms: ms,
            stream: "ecs/prestashop/0123abcd".into(),
            message: format!("line {id}"),
        }
    }

    #[test]
    fn follow_shows_each_event_once_and_looks_back_for_late_ones() {
        let mut f = Follow::new(100_000);
        assert_eq!(f.since_ms(), 90_000);
        let first = f.fresh(vec![ev("a", 100_500), ev("b", 101_000)]);
        assert_eq!(first.len(), 2);
        assert_eq!(f.since_ms(), 91_000);
        // The next poll overlaps: only the new one is shown, even with an older timestamp.
        let next = f.fresh(vec![ev("b", 101_000), ev("c", 100_900)]);
        assert_eq!(next, vec![ev("c", 100_900)]);
        assert_eq!(ev("a", 0).task(), "0123abcd");
    }
}
