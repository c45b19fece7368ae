//! AWS access: aws-config's default chain, the region from the variables, an optional endpoint
//! override (the local emulator), and the retry and timeout policy that rides out flaky AWS.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_types::SdkConfig;

/// Per-attempt timeout when `STACKCTL_AWS_TIMEOUT` (seconds) does not say otherwise. No single
/// AWS control-plane call of this stack legitimately takes this long; a hung connection then
/// becomes a retried timeout instead of a stuck run.
const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// SDK configuration for every module's client. `AWS_ENDPOINT_URL` is honoured by aws-config
/// itself; `-endpoint-url` overrides it.
pub async fn sdk_config(region: &str, endpoint_url: Option<&str>) -> SdkConfig {
    let attempt_timeout = std::env::var("STACKCTL_AWS_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_ATTEMPT_TIMEOUT);
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        // Throttling, 5xx answers, dropped connections and timeouts are retried with jittered
        // exponential back-off: up to 8 attempts, starting around 300 ms, never over 20 s apart.
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(8)
                .with_initial_backoff(Duration::from_millis(300))
                .with_max_backoff(Duration::from_secs(20)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(attempt_timeout)
                .build(),
        );
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}
