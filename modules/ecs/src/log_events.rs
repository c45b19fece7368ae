//! Reading the containers' log events for `stackctl logs`, `run` and the deployment diagnosis,
//! within CloudWatch Logs' quotas: a bounded number of pages per read, paced, throttling waited
//! out; and the follow loop's bookkeeping (which events were already printed, how often to ask).
//!
//! The read quotas are per account and region and shared with every other reader of the
//! account (FilterLogEvents: 5 requests a second; GetLogEvents: 25): a busy shop's log group
//! drained every 2 s would use them up, and `logs -f` would fail once the retries ran out.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_cloudwatchlogs::Client;
use stackctl_contract::{aws_error, wait, ResourceError};
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

/// Pages one read asks for at most: the rest of a busy group waits for the next read (`-f`)
/// or is said to be left out (`logs`).
pub const PAGES_PER_READ: usize = 5;

/// Between two pages of one read: one reader stays under 4 requests a second.
const PAGE_GAP: Duration = Duration::from_millis(250);

/// The first wait after CloudWatch Logs throttled a read; it doubles up to [`THROTTLED_MAX`].
const THROTTLED_FIRST: Duration = Duration::from_secs(1);
const THROTTLED_MAX: Duration = Duration::from_secs(30);

/// How long one read waits out throttling before it gives the error back.
const PATIENCE: Duration = Duration::from_secs(120);

/// Whether an error is CloudWatch Logs (or the network) asking to come back later.
pub fn throttled(e: &ResourceError) -> bool {
    e.retryable || e.is(&["ServiceUnavailableException", "LimitExceededException"])
}

/// What one read found.
#[derive(Debug, Default)]
pub struct Batch {
    /// Oldest first.
    pub events: Vec<LogEvent>,
    /// Where the next read goes on, when the read stopped at its page bound.
    pub more: Option<String>,
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

    /// The events `q` matches, oldest first: at most [`PAGES_PER_READ`] pages (the deployment
    /// diagnosis and the like, which need a few recent lines, not the whole group).
    pub async fn read(&self, q: &LogQuery) -> Result<Vec<LogEvent>, ResourceError> {
        Ok(self.pages(q, None, PAGES_PER_READ).await?.events)
    }

    /// Up to `pages` pages of `q` (FilterLogEvents), from `token` when a former read stopped
    /// at its bound; paced, and throttling waited out.
    pub async fn pages(
        &self,
        q: &LogQuery,
        mut token: Option<String>,
        pages: usize,
    ) -> Result<Batch, ResourceError> {
        let mut out = Vec::new();
        for n in 0..pages.max(1) {
            if n > 0 {
                tokio::time::sleep(wait::scaled(PAGE_GAP)).await;
            }
            let page = patiently(|| {
                let req = self
                    .logs
                    .filter_log_events()
                    .log_group_name(&q.group)
                    .start_time(q.since_ms)
                    .set_filter_pattern(q.filter.clone())
                    .set_log_stream_names(q.stream.clone().map(|s| vec![s]))
                    .set_next_token(token.clone());
                async move {
                    req.send()
                        .await
                        .map_err(|e| aws_error("FilterLogEvents", e))
                }
            })
            .await?;
            out.extend(page.events().iter().map(|e| LogEvent {
                id: e.event_id().unwrap_or_default().to_owned(),
                timestamp_ms: e.timestamp().unwrap_or_default(),
                stream: e.log_stream_name().unwrap_or_default().to_owned(),
                message: e.message().unwrap_or_default().trim_end().to_owned(),
            }));
            match page.next_token() {
                // Some implementations hand back the token they were given at the end.
                Some(t) if token.as_deref() != Some(t) => token = Some(t.to_owned()),
                _ => {
                    token = None;
                    break;
                }
            }
        }
        out.sort_by_key(|e| e.timestamp_ms);
        Ok(Batch {
            events: out,
            more: token,
        })
    }

    /// One stream's events after `token` (GetLogEvents, oldest first from the stream's
    /// start): what a one-off task wrote, without searching the group. Returns the token the
    /// next read starts from; a stream not created yet reads as empty.
    pub async fn stream(
        &self,
        group: &str,
        stream: &str,
        mut token: Option<String>,
    ) -> Result<(Vec<LogEvent>, Option<String>), ResourceError> {
        let mut out = Vec::new();
        for n in 0..PAGES_PER_READ {
            if n > 0 {
                tokio::time::sleep(wait::scaled(PAGE_GAP)).await;
            }
            let page = match patiently(|| {
                let req = self
                    .logs
                    .get_log_events()
                    .log_group_name(group)
                    .log_stream_name(stream)
                    .start_from_head(true)
                    .set_next_token(token.clone());
                async move { req.send().await.map_err(|e| aws_error("GetLogEvents", e)) }
            })
            .await
            {
                Ok(page) => page,
                // The stream exists once the container wrote its first line.
                Err(e) if e.is(&["ResourceNotFoundException"]) => break,
                Err(e) => return Err(e),
            };
            out.extend(page.events().iter().enumerate().map(|(i, e)| LogEvent {
                id: format!("{}/{i}", token.as_deref().unwrap_or("")),
                timestamp_ms: e.timestamp().unwrap_or_default(),
                stream: stream.to_owned(),
                message: e.message().unwrap_or_default().trim_end().to_owned(),
            }));
            let next = page.next_forward_token().map(str::to_owned);
            // The same token back means the end of the stream, for now.
            let end = page.events().is_empty() || next.is_none() || next == token;
            if next.is_some() {
                token = next;
            }
            if end {
                break;
            }
        }
        Ok((out, token))
    }
}

/// Send a read, and while CloudWatch Logs throttles it (past the SDK's own retries), wait
/// longer each time and send it again, for up to [`PATIENCE`].
async fn patiently<T, F, Fut>(send: F) -> Result<T, ResourceError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, ResourceError>>,
{
    let started = std::time::Instant::now();
    let mut pause = THROTTLED_FIRST;
    loop {
        match send().await {
            Err(e) if throttled(&e) && started.elapsed() + pause < wait::scaled(PATIENCE) => {
                tracing::debug!(operation = %e.operation, error = %e, ?pause, "log read throttled; waiting");
                tokio::time::sleep(wait::scaled(pause)).await;
                pause = (pause * 2).min(THROTTLED_MAX);
            }
            other => return other,
        }
    }
}

/// What `-f` has printed and where it reads next: each read asks again from the newest
/// timestamp seen (events can arrive late with an older timestamp than the newest, within the
/// same millisecond or a few seconds behind), and drops the events it already showed. A read
/// that stopped at its page bound is continued by the next one.
#[derive(Debug, Default)]
pub struct Follow {
    /// Event id -> timestamp, for the events inside the look-back window.
    seen: HashMap<String, i64>,
    newest_ms: i64,
    /// When the last read that reached the end started: nothing older than a look-back
    /// before it is read again, even in a quiet group.
    read_ms: i64,
    /// The page token of a read that stopped at its bound, and the start time it was for.
    more: Option<(String, i64)>,
    /// The pause before the next read: [`FOLLOW_POLL`], longer while throttled.
    pause: Duration,
}

/// How far behind the newest event a late one may arrive: CloudWatch Logs indexes events
/// a few seconds after they are put, and tasks' clocks differ.
const LATE_MS: i64 = 10_000;

/// How often `-f` and `run` read (`aws logs tail --follow` polls about as often).
pub const FOLLOW_POLL: Duration = Duration::from_secs(2);

impl Follow {
    pub fn new(since_ms: i64) -> Follow {
        Follow {
            seen: HashMap::new(),
            newest_ms: since_ms,
            read_ms: since_ms + LATE_MS,
            more: None,
            pause: FOLLOW_POLL,
        }
    }

    /// Where the next read starts.
    pub fn since_ms(&self) -> i64 {
        match &self.more {
            Some((_, since)) => *since,
            None => (self.newest_ms.max(self.read_ms) - LATE_MS).max(0),
        }
    }

    /// The token the next read goes on from, if the last one stopped at its bound.
    pub fn token(&self) -> Option<String> {
        self.more.as_ref().map(|(t, _)| t.clone())
    }

    /// How long to wait before the next read.
    pub fn pause(&self) -> Duration {
        self.pause
    }

    /// A read that started at `started_ms` (the local clock) came back with `batch`: the
    /// events not shown yet, in order; remembers them and where to read next.
    pub fn read(&mut self, started_ms: i64, batch: Batch) -> Vec<LogEvent> {
        let since = self.since_ms();
        self.pause = FOLLOW_POLL;
        match batch.more {
            Some(token) => self.more = Some((token, since)),
            None => {
                self.more = None;
                self.read_ms = self.read_ms.max(started_ms);
            }
        }
        self.fresh(batch.events)
    }

    /// CloudWatch Logs throttled the read (or did not answer): ask half as often, down to one
    /// read every [`THROTTLED_MAX`], until a read goes through.
    pub fn throttled(&mut self) {
        self.pause = (self.pause * 2).min(THROTTLED_MAX);
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
        // An event older than the next read's start cannot come back: forget it.
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
        // The first read starts where -since says.
        assert_eq!(f.since_ms(), 100_000);
        let first = f.fresh(vec![ev("a", 100_500), ev("b", 120_000)]);
        assert_eq!(first.len(), 2);
        assert_eq!(f.since_ms(), 110_000);
        // The next poll overlaps: only the new one is shown, even with an older timestamp.
        let next = f.fresh(vec![ev("b", 120_000), ev("c", 119_900)]);
        assert_eq!(next, vec![ev("c", 119_900)]);
        assert_eq!(ev("a", 0).task(), "0123abcd");
    }

    #[test]
    fn follow_moves_on_in_a_quiet_group_continues_a_bounded_read_and_slows_when_throttled() {
        let mut f = Follow::new(100_000);
        // A quiet group: the next read starts a look-back before the last read, not at -since.
        assert!(f.read(500_000, Batch::default()).is_empty());
        assert_eq!(f.since_ms(), 490_000);
        // A read that stopped at its page bound: the next goes on with its token, same start.
        let batch = Batch {
            events: vec![ev("a", 495_000)],
            more: Some("t1".into()),
        };
        assert_eq!(f.read(502_000, batch).len(), 1);
        assert_eq!((f.token().as_deref(), f.since_ms()), (Some("t1"), 490_000));
        f.read(504_000, Batch::default());
        assert_eq!((f.token(), f.since_ms()), (None, 494_000));
        // Throttled: half as often each time, up to the longest pause; a read resets it.
        f.throttled();
        assert_eq!(f.pause(), FOLLOW_POLL * 2);
        for _ in 0..10 {
            f.throttled();
        }
        assert_eq!(f.pause(), THROTTLED_MAX);
        f.read(510_000, Batch::default());
        assert_eq!(f.pause(), FOLLOW_POLL);
    }
}
