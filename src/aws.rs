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

/// The account, partition and caller the credentials stand for, from STS GetCallerIdentity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    /// `aws`, `aws-cn` or `aws-us-gov`: the second field of every ARN in this account.
    pub partition: String,
    pub arn: String,
}

/// Why the first AWS call of a run failed, in the words a user can act on. Every variant is one
/// line plus a hint; none carries an SDK `Debug` dump.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("no AWS credentials found ({detail})\n  hint: set AWS_PROFILE (after `aws configure` or `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; scripts/demo.sh runs against the local emulator without an account")]
    NoCredentials { detail: String },
    #[error("the AWS credentials have expired ({code})\n  hint: log in again (`aws sso login --profile ...`), or renew AWS_SESSION_TOKEN")]
    Expired { code: String },
    #[error("AWS rejected the credentials ({code}: {message})\n  hint: check AWS_PROFILE or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; the key may have been deleted or mistyped")]
    Rejected { code: String, message: String },
    #[error("access denied to sts:GetCallerIdentity ({code}: {message})\n  hint: the identity in use lacks permissions; see README 'Use against real AWS' for the policy")]
    Denied { code: String, message: String },
    #[error("cannot reach AWS at {endpoint} ({cause})\n  hint: check the network and proxy settings; with an emulator, check that it runs and that -endpoint-url / AWS_ENDPOINT_URL point at it")]
    Unreachable { endpoint: String, cause: String },
    #[error("AWS STS GetCallerIdentity failed ({message})\n  hint: check the credentials and the network, then run the command again")]
    Other { message: String },
}

/// Who the credentials are, checked first by every command that calls AWS, so that missing,
/// expired or rejected credentials and an unreachable endpoint each give one clear line within
/// seconds, before any change. It tries twice at most, with a short timeout, instead of the
/// eight attempts of ordinary calls: at the first call, a failure is a setup problem, not a
/// passing fault.
pub async fn identity(sdk: &SdkConfig) -> Result<Identity, AccessError> {
    use aws_credential_types::provider::error::CredentialsError;
    use aws_credential_types::provider::ProvideCredentials;
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    use stackctl_contract::error::root_cause;

    let endpoint = sdk.endpoint_url().map(str::to_owned).unwrap_or_else(|| {
        let region = sdk.region().map(|r| r.as_ref()).unwrap_or("us-east-1");
        format!("sts.{region}.amazonaws.com")
    });
    // Ask the provider chain directly: the SDK would turn a missing credential into a generic
    // dispatch failure.
    if let Some(provider) = sdk.credentials_provider() {
        let loaded =
            tokio::time::timeout(Duration::from_secs(20), provider.provide_credentials()).await;
        match loaded {
            Err(_) => {
                return Err(AccessError::NoCredentials {
                    detail: "the credential providers did not answer within 20 s".to_owned(),
                })
            }
            Ok(Err(e)) => {
                let detail = match &e {
                    CredentialsError::CredentialsNotLoaded(_) => {
                        "no provider of the default chain had any: environment, profile files, SSO, container, instance metadata".to_owned()
                    }
                    other => format!("the last provider tried said: {}", root_cause(other)),
                };
                return Err(AccessError::NoCredentials { detail });
            }
            Ok(Ok(_)) => {}
        }
    } else {
        return Err(AccessError::NoCredentials {
            detail: "no credential provider is configured".to_owned(),
        });
    }
    let conf = aws_sdk_sts::config::Builder::from(sdk)
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .build(),
        )
        .build();
    let out = aws_sdk_sts::Client::from_conf(conf)
        .get_caller_identity()
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(SdkError::DispatchFailure(e)) => {
            let cause = match e.as_other() {
                Some(_) => "the request could not be sent".to_owned(),
                None => e
                    .as_connector_error()
                    .map(|c| root_cause(c))
                    .unwrap_or_else(|| "connection failed".to_owned()),
            };
            return Err(AccessError::Unreachable { endpoint, cause });
        }
        Err(SdkError::TimeoutError(_)) => {
            return Err(AccessError::Unreachable {
                endpoint,
                cause: "no answer within 10 s".to_owned(),
            })
        }
        Err(e) => {
            let code = e.code().unwrap_or_default().to_owned();
            let message = e.message().unwrap_or_default().to_owned();
            return Err(match code.as_str() {
                "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
                    AccessError::Expired { code }
                }
                "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "UnrecognizedClientException"
                | "AuthFailure"
                | "IncompleteSignature" => AccessError::Rejected { code, message },
                "AccessDenied" | "AccessDeniedException" => AccessError::Denied { code, message },
                "" => AccessError::Other {
                    message: root_cause(&e),
                },
                _ => AccessError::Other {
                    message: format!("{code}: {message}"),
                },
            });
        }
    };
    let arn = out.arn().unwrap_or_default().to_owned();
    // The ARN says it; the region's partition is the fallback for an answer without one.
    let region_partition = crate::vars::partition_of(sdk.region().map_or("", |r| r.as_ref()));
    let partition = arn
        .split(':')
        .nth(1)
        .filter(|p| !p.is_empty())
        .unwrap_or(region_partition)
        .to_owned();
    Ok(Identity {
        account: out.account().unwrap_or_default().to_owned(),
        partition,
        arn,
    })
}
