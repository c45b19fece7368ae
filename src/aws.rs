//! AWS access: aws-config's default credential chain, the region from the variables, and an
//! optional endpoint override (the local emulator).

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_types::SdkConfig;

/// SDK configuration for every module's client. `AWS_ENDPOINT_URL` is honoured by aws-config
/// itself; `-endpoint-url` overrides it.
pub async fn sdk_config(region: &str, endpoint_url: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        // Throttling and 5xx answers are retried with jittered exponential back-off.
        .retry_config(RetryConfig::standard().with_max_attempts(8));
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}
