//! `stackctl status [-json]`: the live stack at a glance (the URL, the service, its
//! deployments and tasks, target health, the database, EFS, recent events), found from the
//! state as `output` finds it. Exit 0 when healthy, 3 when degraded, 1 on an error.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use serde_json::{json, Value as J};
use stackctl_alb::status::Target;
use stackctl_ecs::status::ServiceStatus;
use stackctl_efs::status::FsStatus;
use stackctl_rds::status::DbStatus;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli::args::{EndpointArgs, LocateArgs};
use crate::ui::Printer;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub locate: LocateArgs,
}

/// The exit code of a stack that answers but is not healthy: distinct from an error (1) and
/// from `plan -detailed-exitcode`'s "changes" (2).
pub const DEGRADED: u8 = 3;

/// How many of the service's events to show.
const EVENTS: usize = 8;

/// What the URL probe found.
enum Probe {
    Answered {
        status: u16,
        took: Duration,
    },
    Failed(String),
    /// Nothing to ask: no URL, or a name that does not resolve (an emulator's load balancer).
    Skipped(String),
}

pub async fn exec(args: StatusArgs, ui: Printer) -> Result<ExitCode> {
    let store = super::store(&args.locate, args.endpoint.endpoint_url.as_deref()).await?;
    let state = store.load_existing().await?;
    let super::Applied {
        cluster,
        service,
        sdk,
    } = super::applied(&state, &store, args.endpoint.endpoint_url.as_deref()).await?;
    let id = |address: &str| state.resources.get(address).map(|r| r.id.clone());
    let url = state
        .outputs
        .get("load_balancer_url")
        .and_then(|o| o.value.as_str())
        .map(str::to_owned);
    let tg = id(stackctl_alb::TARGET_GROUP);
    let db = id(stackctl_rds::INSTANCE);
    let fs = id(stackctl_efs::FILE_SYSTEM);
    let (svc, targets, db_status, fs_status, probe) = tokio::join!(
        stackctl_ecs::status::service_status(&sdk, &cluster, &service, EVENTS),
        async {
            match &tg {
                Some(tg) => stackctl_alb::status::target_health(&sdk, tg).await,
                None => Ok(Vec::new()),
            }
        },
        async {
            match &db {
                Some(db) => stackctl_rds::status::db_status(&sdk, db).await,
                None => Ok(None),
            }
        },
        async {
            match &fs {
                Some(fs) => stackctl_efs::status::fs_status(&sdk, fs).await,
                None => Ok(None),
            }
        },
        probe(url.as_deref()),
    );
    let view = View {
        url,
        probe,
        service: svc?,
        targets: targets?,
        db: db_status?,
        fs: fs_status?,
    };
    let problems = view.problems();
    if ui.json() {
        ui.document(&view.to_json(&problems));
    } else {
        ui.value(view.render(&problems).trim_end());
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(DEGRADED)
    })
}

/// An HTTP GET of the shop's URL (plain HTTP, as the load balancer listens), with a short
/// timeout: the status line is enough. Whether to ask is decided by what can be checked, the
/// name resolving, not by an endpoint override: a user of VPC or FIPS endpoints has a real
/// load balancer, an emulator's has a made-up name.
async fn probe(url: Option<&str>) -> Probe {
    let Some(url) = url else {
        return Probe::Skipped("no load_balancer_url output in the state".into());
    };
    let Some(authority) = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .filter(|a| !a.is_empty())
    else {
        return Probe::Skipped("not an http:// URL".into());
    };
    let (name, port) = match authority.rsplit_once(':') {
        Some((name, port)) => match port.parse::<u16>() {
            Ok(port) => (name, port),
            Err(_) => return Probe::Skipped("not an http:// URL".into()),
        },
        None => (authority, 80),
    };
    let host = authority;
    let resolved = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::lookup_host((name, port)),
    )
    .await;
    let addrs: Vec<std::net::SocketAddr> = match resolved {
        Ok(Ok(addrs)) => addrs.collect(),
        _ => Vec::new(),
    };
    if addrs.is_empty() {
        return Probe::Skipped(format!(
            "not checked: {name} does not resolve from here (an emulator's load balancer has a made-up name; a new load balancer's takes a minute or two)"
        ));
    }
    let started = Instant::now();
    let get = async {
        let mut conn = tokio::net::TcpStream::connect(&addrs[..]).await?;
        conn.write_all(
            format!("GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: stackctl-status\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
        let mut head = [0u8; 64];
        let n = conn.read(&mut head).await?;
        let line = String::from_utf8_lossy(&head[..n]).into_owned();
        line.split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {line:?}")))
    };
    match tokio::time::timeout(Duration::from_secs(10), get).await {
        Ok(Ok(status)) => Probe::Answered {
            status,
            took: started.elapsed(),
        },
        Ok(Err(e)) => Probe::Failed(e.to_string()),
        Err(_) => Probe::Failed("no answer within 10 s".into()),
    }
}

struct View {
    url: Option<String>,
    probe: Probe,
    service: Option<ServiceStatus>,
    targets: Vec<Target>,
    db: Option<DbStatus>,
    fs: Option<FsStatus>,
}

impl View {
    /// Why the stack is not healthy; empty when it is.
    fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        match &self.probe {
            Probe::Answered { status, .. } if *status >= 500 => {
                p.push(format!("the URL answers HTTP {status}"))
            }
            Probe::Failed(e) => p.push(format!("the URL does not answer: {e}")),
            _ => {}
        }
        match &self.service {
            None => p.push("the ECS service is gone".into()),
            Some(s) => {
                if s.running < s.desired {
                    p.push(format!("{} of {} tasks running", s.running, s.desired));
                }
                for d in &s.deployments {
                    match d.rollout_state.as_str() {
                        "FAILED" => p.push(format!(
                            "deployment {} of {} failed: {}",
                            d.id, d.revision, d.rollout_reason
                        )),
                        "IN_PROGRESS" => p.push(format!(
                            "deployment {} of {} in progress ({} of {} running, {} failed tasks)",
                            d.id, d.revision, d.running, d.desired, d.failed
                        )),
                        _ => {}
                    }
                }
                let healthy = self.targets.iter().filter(|t| t.state == "healthy").count();
                if (healthy as i32) < s.desired {
                    let reasons: Vec<String> = self
                        .targets
                        .iter()
                        .filter(|t| t.state != "healthy")
                        .map(|t| format!("{} {}", t.state, t.reason))
                        .collect();
                    p.push(format!(
                        "{healthy} of {} targets healthy{}",
                        s.desired,
                        if reasons.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", reasons.join(", "))
                        }
                    ));
                }
            }
        }
        match &self.db {
            None => p.push("the database is gone".into()),
            Some(d) if !d.serving() => p.push(format!("the database is {}", d.status)),
            _ => {}
        }
        match &self.fs {
            None => p.push("the EFS file system is gone".into()),
            Some(f) if !f.available() => p.push(format!("the file system is {}", f.state)),
            _ => {}
        }
        p
    }

    fn render(&self, problems: &[String]) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(if problems.is_empty() {
            "Status: healthy".to_owned()
        } else {
            format!("Status: DEGRADED ({} problem(s))", problems.len())
        });
        for p in problems {
            line(format!("  - {p}"));
        }
        line(String::new());
        let url = self.url.as_deref().unwrap_or("(none)");
        line(match &self.probe {
            Probe::Answered { status, took } => format!(
                "URL        {url}: HTTP {status} in {:.2} s",
                took.as_secs_f64()
            ),
            Probe::Failed(e) => format!("URL        {url}: does not answer ({e})"),
            Probe::Skipped(why) => format!("URL        {url}: {why}"),
        });
        match &self.service {
            None => line("Service    gone".into()),
            Some(s) => {
                line(format!(
                    "Service    {}: {} running, {} pending, {} desired",
                    s.status, s.running, s.pending, s.desired
                ));
                for d in &s.deployments {
                    line(format!(
                        "  deployment {} {} {} {}: {}/{} running, {} pending, {} failed",
                        d.id,
                        d.status,
                        d.rollout_state,
                        d.revision,
                        d.running,
                        d.desired,
                        d.pending,
                        d.failed
                    ));
                }
                if s.tasks.is_empty() {
                    line("Tasks      none".into());
                }
                for t in &s.tasks {
                    line(format!(
                        "  task {} {} {} health={} {} started={}{}",
                        t.id,
                        t.zone,
                        t.last_status,
                        t.health,
                        t.revision,
                        t.started.as_deref().unwrap_or("-"),
                        t.stopped_reason
                            .as_deref()
                            .map(|r| format!(" stopped: {r}"))
                            .unwrap_or_default()
                    ));
                }
            }
        }
        line(format!(
            "Targets    {} healthy of {} registered",
            self.targets.iter().filter(|t| t.state == "healthy").count(),
            self.targets.len()
        ));
        for t in &self.targets {
            line(format!(
                "  target {}:{} {}{}",
                t.id,
                t.port,
                t.state,
                if t.reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({}: {})", t.reason, t.description)
                }
            ));
        }
        line(match &self.db {
            None => "Database   gone".into(),
            Some(d) => format!(
                "Database   {}: {}, {} GiB, MySQL {}{}",
                d.status,
                d.class,
                d.storage_gib,
                d.engine_version,
                if d.multi_az { ", Multi-AZ" } else { "" }
            ),
        });
        line(match &self.fs {
            None => "EFS        gone".into(),
            Some(f) => format!(
                "EFS        {}; mount targets: {}",
                f.state,
                f.mount_targets
                    .iter()
                    .map(|(az, s)| format!("{az} {s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
        if let Some(s) = &self.service {
            line("Events (newest first):".into());
            for (at, m) in &s.events {
                line(format!("  {at} {m}"));
            }
        }
        out
    }

    fn to_json(&self, problems: &[String]) -> J {
        json!({
            "healthy": problems.is_empty(),
            "problems": problems,
            "url": self.url,
            "url_check": match &self.probe {
                Probe::Answered { status, took } => json!({"status": status, "seconds": took.as_secs_f64()}),
                Probe::Failed(e) => json!({"error": e}),
                Probe::Skipped(why) => json!({"skipped": why}),
            },
            "service": self.service.as_ref().map(|s| json!({
                "status": s.status,
                "desired": s.desired,
                "running": s.running,
                "pending": s.pending,
                "deployments": s.deployments.iter().map(|d| json!({
                    "id": d.id, "status": d.status, "rollout_state": d.rollout_state,
                    "rollout_reason": d.rollout_reason, "revision": d.revision,
                    "desired": d.desired, "running": d.running, "pending": d.pending,
                    "failed": d.failed,
                })).collect::<Vec<_>>(),
                "tasks": s.tasks.iter().map(|t| json!({
                    "id": t.id, "zone": t.zone, "status": t.last_status, "health": t.health,
                    "revision": t.revision, "started": t.started, "stopped_reason": t.stopped_reason,
                })).collect::<Vec<_>>(),
                "events": s.events.iter().map(|(at, m)| json!({"at": at, "message": m})).collect::<Vec<_>>(),
            })),
            "targets": self.targets.iter().map(|t| json!({
                "id": t.id, "port": t.port, "state": t.state, "reason": t.reason,
                "description": t.description,
            })).collect::<Vec<_>>(),
            "database": self.db.as_ref().map(|d| json!({
                "status": d.status, "class": d.class, "storage_gib": d.storage_gib,
                "engine_version": d.engine_version, "multi_az": d.multi_az,
            })),
            "efs": self.fs.as_ref().map(|f| json!({
                "state": f.state,
                "mount_targets": f.mount_targets.iter().map(|(az, s)| json!({"zone": az, "state": s})).collect::<Vec<_>>(),
            })),
        })
    }
}
