//! The fault proxy against moto, driven by the AWS SDK: it forwards faithfully, and the SDK
//! recognises every fault it injects as retryable (it retries each one, and a throttling answer
//! surfaces with the service's own throttling code).

use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_types::SdkConfig;
use stackctl_testkit::proxy::Outcome;
use stackctl_testkit::{Fault, FaultProxy, Faults, Moto, REGION};

/// An SDK configuration for the proxy: `attempts` attempts, quick back-off, and this
/// per-attempt timeout.
async fn sdk(endpoint: &str, attempts: u32, attempt_timeout: Duration) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_types::sdk_config::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new("testing", "testing", None, None, "proxy-test"),
        ))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(10))
                .with_max_backoff(Duration::from_millis(50)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(attempt_timeout)
                .build(),
        )
        .load()
        .await
}

/// What one call ended with: `Ok`, or the error's code (its kind for errors without one).
fn outcome<T, E: ProvideErrorMetadata + std::error::Error + 'static>(
    r: Result<T, SdkError<E>>,
) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(SdkError::TimeoutError(_)) => "timeout".into(),
        Err(SdkError::DispatchFailure(f)) => {
            if f.is_timeout() {
                "dispatch:timeout".into()
            } else if f.is_io() {
                "dispatch:io".into()
            } else {
                format!("dispatch:other:{:?}", f.as_other())
            }
        }
        Err(e) => e
            .code()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("no code: {}", aws_smithy_error(&e))),
    }
}

fn aws_smithy_error(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

/// One read-only call of each protocol: EC2 query, AWS query (IAM), awsJson 1.1 (Secrets
/// Manager) and restJson1 (EFS).
async fn call(sdk: &SdkConfig, service: &str) -> String {
    match service {
        "ec2" => outcome(aws_sdk_ec2::Client::new(sdk).describe_vpcs().send().await),
        "iam" => outcome(aws_sdk_iam::Client::new(sdk).list_roles().send().await),
        "secretsmanager" => outcome(
            aws_sdk_secretsmanager::Client::new(sdk)
                .list_secrets()
                .send()
                .await,
        ),
        "efs" => outcome(
            aws_sdk_efs::Client::new(sdk)
                .describe_file_systems()
                .send()
                .await,
        ),
        other => panic!("no call for {other}"),
    }
}

const SERVICES: [&str; 4] = ["ec2", "iam", "secretsmanager", "efs"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_every_protocol_faithfully_and_counts() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint, Faults::none());
    let sdk = sdk(&proxy.endpoint, 1, Duration::from_secs(30)).await;

    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    assert!(vpcs.vpcs().iter().any(|v| v.is_default() == Some(true)));

    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    sm.create_secret()
        .name("through-the-proxy")
        .secret_string("v")
        .send()
        .await
        .unwrap();
    let got = sm
        .get_secret_value()
        .secret_id("through-the-proxy")
        .send()
        .await
        .unwrap();
    assert_eq!(got.secret_string(), Some("v"));
    // A modelled error is relayed as is.
    let missing = sm.get_secret_value().secret_id("missing").send().await;
    assert_eq!(outcome(missing), "ResourceNotFoundException");

    let iam = aws_sdk_iam::Client::new(&sdk);
    iam.create_role()
        .role_name("through-the-proxy")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    let roles = iam.list_roles().send().await.unwrap();
    assert!(roles
        .roles()
        .iter()
        .any(|r| r.role_name() == "through-the-proxy"));

    let efs = aws_sdk_efs::Client::new(&sdk);
    let fs = efs
        .create_file_system()
        .creation_token("through-the-proxy")
        .send()
        .await
        .unwrap();
    let described = efs
        .describe_file_systems()
        .file_system_id(fs.file_system_id())
        .send()
        .await
        .unwrap();
    assert_eq!(described.file_systems().len(), 1);

    let stats = proxy.stats();
    assert_eq!(stats.requests, 8, "{stats}");
    assert_eq!(stats.forwarded, 8, "{stats}");
    assert_eq!(stats.faults(), 0, "{stats}");
    let events = proxy.events();
    let ops: Vec<String> = events
        .iter()
        .map(|e| format!("{} {}", e.service, e.operation))
        .collect();
    assert_eq!(
        ops,
        [
            "ec2 DescribeVpcs",
            "secretsmanager CreateSecret",
            "secretsmanager GetSecretValue",
            "secretsmanager GetSecretValue",
            "iam CreateRole",
            "iam ListRoles",
            "elasticfilesystem POST /2015-02-01/file-systems",
            "elasticfilesystem GET /2015-02-01/file-systems",
        ]
    );
    // Moto's own error answer is relayed, status and all.
    assert!(
        matches!(events[3].outcome, Outcome::Forwarded(400..=499)),
        "{}",
        events[3]
    );
}

/// With every request failing with one kind of fault and 3 attempts allowed, the SDK makes 3
/// requests (it retried) and reports the fault's code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_retries_every_injected_fault() {
    let moto = Moto::start();
    // (fault, service, the outcome the caller sees after the last attempt)
    let expected = [
        (Fault::Throttle, "ec2", "RequestLimitExceeded"),
        (Fault::Throttle, "iam", "Throttling"),
        (Fault::Throttle, "secretsmanager", "ThrottlingException"),
        (Fault::Throttle, "efs", "ThrottlingException"),
        (Fault::Http500, "ec2", "InternalError"),
        (Fault::Http500, "iam", "InternalFailure"),
        (Fault::Http500, "secretsmanager", "InternalFailure"),
        (Fault::Http500, "efs", "InternalFailure"),
        (Fault::Http503, "ec2", "Unavailable"),
        (Fault::Http503, "iam", "ServiceUnavailable"),
        (Fault::Http503, "secretsmanager", "ServiceUnavailable"),
        (Fault::Http503, "efs", "ServiceUnavailable"),
    ];
    let mut failures = Vec::new();
    for (fault, service, code) in expected {
        let proxy = FaultProxy::start(&moto.endpoint, Faults::rate(1.0).only(fault));
        let sdk = sdk(&proxy.endpoint, 3, Duration::from_secs(10)).await;
        let seen = call(&sdk, service).await;
        let stats = proxy.stats();
        if seen != code || stats.requests != 3 {
            failures.push(format!(
                "{fault} on {service}: saw {seen} after {} requests, expected {code} after 3",
                stats.requests
            ));
        }
    }
    // Dropped connections: an I/O error the SDK retries.
    for service in SERVICES {
        let proxy = FaultProxy::start(&moto.endpoint, Faults::rate(1.0).only(Fault::Drop));
        let sdk = sdk(&proxy.endpoint, 3, Duration::from_secs(10)).await;
        let seen = call(&sdk, service).await;
        let stats = proxy.stats();
        if !seen.starts_with("dispatch:") || stats.requests != 3 || stats.dropped != 3 {
            failures.push(format!(
                "drop on {service}: saw {seen}, {stats}, expected a dispatch failure after 3 requests"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A held request times out on the client, which retries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_requests_time_out_and_are_retried() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Faults::rate(1.0)
            .only(Fault::Timeout)
            .with_hold(Duration::from_secs(2)),
    );
    let sdk = sdk(&proxy.endpoint, 2, Duration::from_millis(300)).await;
    let started = Instant::now();
    let seen = call(&sdk, "secretsmanager").await;
    assert_eq!(seen, "timeout");
    // Two attempts of 300 ms, not two holds of 2 s.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    // The second request may still be arriving when the client gives up; the first is there.
    let stats = proxy.stats();
    assert!(stats.timeouts >= 1 && stats.forwarded == 0, "{stats}");
    // Wait for the second attempt to be counted.
    let deadline = Instant::now() + Duration::from_secs(2);
    while proxy.stats().requests < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(proxy.stats().timeouts, 2, "{}", proxy.stats());
}

/// At a high failure rate with every kind of fault, calls of every protocol still succeed, and
/// the faults are spread over the kinds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_succeed_through_a_flaky_proxy() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Faults::rate(0.3)
            .with_seed(42)
            .with_latency(Duration::from_millis(2))
            .with_hold(Duration::from_millis(1200)),
    );
    // Moto sets a service up on its first call (IAM loads every managed policy): not within
    // the short attempt timeout below, so do that directly first.
    let direct = moto.sdk_config().await;
    for service in SERVICES {
        assert_eq!(call(&direct, service).await, "ok", "{service}");
    }
    let sdk = sdk(&proxy.endpoint, 10, Duration::from_secs(1)).await;
    for round in 0..25 {
        for service in SERVICES {
            assert_eq!(call(&sdk, service).await, "ok", "{service}, round {round}");
        }
    }
    let stats = proxy.stats();
    eprintln!("flaky proxy: {stats}");
    assert!(stats.forwarded >= 100, "{stats}");
    assert!(stats.faults() > 20, "{stats}");
    for (kind, n) in [
        ("500", stats.faults_500),
        ("503", stats.faults_503),
        ("throttle", stats.throttles),
        ("drop", stats.dropped),
    ] {
        assert!(n > 0, "no {kind} fault: {stats}");
    }
}

/// The proxy stops when dropped: its port no longer answers.
#[test]
fn stops_when_dropped() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint, Faults::none());
    let addr: std::net::SocketAddr = proxy
        .endpoint
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    assert!(addr.ip().is_loopback());
    assert!(std::net::TcpStream::connect(addr).is_ok());
    drop(proxy);
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
#[should_panic(expected = "only to plain HTTP on loopback")]
fn refuses_a_non_loopback_upstream() {
    let _ = FaultProxy::start("http://192.0.2.1:5000", Faults::none());
}
