//! The error a resource operation returns: the AWS error code and message, and what to do.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// A failed AWS call, or a module bug, in the words a user can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ResourceError {
    /// The operation that failed, such as `CreateSecurityGroup`.
    pub operation: String,
    /// AWS's error code (`InvalidGroup.Duplicate`), when AWS answered at all.
    pub code: Option<String>,
    pub message: String,
    /// What the user can do about it, when we know.
    pub hint: Option<String>,
    /// Whether retrying the same call later may succeed (eventual consistency, throttling).
    pub retryable: bool,
}

impl fmt::Display for ResourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.operation)?;
        if let Some(code) = &self.code {
            write!(f, ": {code}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl ResourceError {
    pub fn new(operation: impl Into<String>, message: impl Into<String>) -> Self {
        ResourceError {
            operation: operation.into(),
            code: None,
            message: message.into(),
            hint: None,
            retryable: false,
        }
    }

    /// A bug in stackctl rather than a problem with the account: say so plainly.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("stackctl", message)
            .with_hint("this is a bug in stackctl; please report it with the command you ran")
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    /// A resource that cannot be found right after it was created or changed: most likely
    /// AWS's eventual consistency, so the engine may retry.
    pub fn vanished(operation: &str, what: &str) -> Self {
        ResourceError::new(
            operation,
            format!("{what} vanished right after it was changed"),
        )
        .retryable()
    }

    /// Whether AWS answered with one of these error codes.
    pub fn is(&self, codes: &[&str]) -> bool {
        self.code.as_deref().is_some_and(|c| codes.contains(&c))
    }
}

/// Turns AWS's "not found" answer into `Ok(None)`.
///
/// Every `read`, `adopt` and `delete` treats a resource AWS no longer has as absent, not as an
/// error: it was deleted by hand, or by an interrupted run, and the engine then plans to create it
/// again (or has nothing left to delete). Each AWS type says "not found" with its own codes.
pub trait Absent<T> {
    /// `Ok(None)` when the error is one of `codes` (AWS's "not found" for this type).
    fn absent_if(self, codes: &[&str]) -> Result<Option<T>, ResourceError>;
}

impl<T> Absent<T> for Result<T, ResourceError> {
    fn absent_if(self, codes: &[&str]) -> Result<Option<T>, ResourceError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is(codes) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The innermost cause of an error chain, which names what really happened (`Connection
/// refused`, `dns error: failed to lookup address`) where the outer layers say "dispatch failure".
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut e = err;
    while let Some(next) = e.source() {
        e = next;
    }
    // Display only: `DisplayErrorContext` would append the error's `Debug` form.
    e.to_string()
}

/// Turn an SDK error into a [`ResourceError`] for `operation`, keeping AWS's code and message and
/// adding a hint for the failures every user meets (no credentials, no network, no permission).
pub fn aws_error<E, R>(operation: &str, err: SdkError<E, R>) -> ResourceError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + 'static,
{
    let code = err.code().map(str::to_owned);
    // The SDK's own rendering of an error without a message can carry the raw HTTP response
    // (headers, body bytes): say what happened in words instead.
    let message = match (err.message(), &err) {
        (Some(m), _) => m.to_owned(),
        (None, SdkError::DispatchFailure(_)) => format!("could not reach AWS ({})", root_cause(&err)),
        (None, SdkError::TimeoutError(_)) => "AWS did not answer in time".to_owned(),
        (None, SdkError::ResponseError(_)) => {
            "AWS's answer could not be read (not a response of this service: check the region and -endpoint-url)".to_owned()
        }
        (None, SdkError::ConstructionFailure(_)) => {
            format!("the request could not be built ({})", root_cause(&err))
        }
        (None, _) => match &code {
            Some(c) => format!("AWS answered {c} without a message"),
            None => root_cause(&err),
        },
    };
    let mut e = ResourceError {
        operation: operation.to_owned(),
        code,
        message,
        hint: None,
        retryable: false,
    };
    e.retryable = matches!(
        err,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)
    ) || e.is(&[
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    ]);
    e.hint = Some(hint(&err, &e));
    e
}

/// What to do about an AWS error: the failures every user meets by name, then by the kind of
/// code, and at least which call failed and how to see more.
fn hint<E, R>(err: &SdkError<E, R>, e: &ResourceError) -> String {
    let code = e.code.as_deref().unwrap_or_default();
    let op = &e.operation;
    let has = |words: &[&str]| words.iter().any(|w| code.contains(w));
    match err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            return "AWS could not be reached: check the network, or AWS_ENDPOINT_URL / -endpoint-url if you use an emulator".to_owned();
        }
        SdkError::ResponseError(_) | SdkError::ConstructionFailure(_) if code.is_empty() => {
            return "check the region (aws_region) and -endpoint-url / AWS_ENDPOINT_URL: the answer was not this AWS service's".to_owned();
        }
        _ => {}
    }
    match code {
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
            return "the AWS identity in use lacks this permission: see README 'Use against real AWS' for the policy".to_owned();
        }
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "AuthFailure"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "SignatureDoesNotMatch" => {
            return "AWS rejected the credentials: check AWS_PROFILE / AWS_ACCESS_KEY_ID, or log in again (aws sso login)".to_owned();
        }
        "OptInRequired" | "SubscriptionRequiredException" => {
            return format!("the account is not signed up for the service {op} belongs to: enable it in the AWS console, or pick another region (aws_region)");
        }
        _ => {}
    }
    if e.retryable || has(&["Throttl", "RequestLimitExceeded", "TooManyRequests"]) {
        format!("AWS refused {op} for now (throttling) after every retry: wait a minute and run the same command again; it goes on from where it stopped")
    } else if has(&["LimitExceeded", "QuotaExceeded", "Quota"]) {
        format!("an AWS quota stops {op}: remove what you no longer use, or raise the quota in the Service Quotas console, then run the same command again")
    } else if has(&["NotFound", "NoSuchEntity", "NoSuch"]) {
        format!("AWS has no such resource for {op}: it may have been deleted outside stackctl; run `stackctl plan` to see what would be created again")
    } else if has(&[
        "InUse",
        "DependencyViolation",
        "Conflict",
        "InvalidState",
        "InvalidDBInstanceState",
        "IncorrectState",
        "ResourceInUse",
        "OperationInProgress",
    ]) {
        format!("the resource is busy or still in use for {op} (AWS is still changing it, or something depends on it): wait a few minutes and run the same command again")
    } else if has(&["Duplicate", "AlreadyExists", "EntityAlreadyExists"]) {
        format!("a resource with this name already exists for {op}: if it is not this stack's, rename the stack (project_name / environment); stackctl never takes over what it did not make")
    } else if has(&[
        "Invalid",
        "Validation",
        "Malformed",
        "MissingParameter",
        "Unsupported",
    ]) {
        format!("AWS refused a value of {op}: check the variable it comes from in your var file (`stackctl validate` checks them), then run the same command again")
    } else if has(&[
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServerException",
        "Unavailable",
    ]) {
        format!("AWS failed on its side on {op}: run the same command again in a few minutes; it goes on from where it stopped")
    } else {
        format!("{op} failed in AWS: fix what it says and run the same command again; STACKCTL_LOG=debug shows every request")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_if_maps_only_the_given_codes_to_none() {
        let found: Result<u8, ResourceError> = Ok(7);
        assert_eq!(found.absent_if(&["NotFound"]).unwrap(), Some(7));

        let gone: Result<u8, ResourceError> =
            Err(ResourceError::new("Describe", "no such thing").with_code("NotFound"));
        assert_eq!(gone.absent_if(&["Other", "NotFound"]).unwrap(), None);

        let denied: Result<u8, ResourceError> =
            Err(ResourceError::new("Describe", "denied").with_code("AccessDenied"));
        let err = denied.absent_if(&["NotFound"]).unwrap_err();
        assert_eq!(err.code.as_deref(), Some("AccessDenied"));

        // No code at all (AWS was not reached) is never "not found".
        let unreached: Result<u8, ResourceError> = Err(ResourceError::new("Describe", "timeout"));
        assert!(unreached.absent_if(&["NotFound"]).is_err());
    }

    #[test]
    fn every_aws_error_says_what_to_do() {
        use aws_smithy_runtime_api::http::StatusCode;
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;
        let answer = |code: &str| {
            let meta = ErrorMetadata::builder()
                .code(code)
                .message("AWS said no")
                .build();
            let raw = aws_smithy_runtime_api::http::Response::new(
                StatusCode::try_from(400).unwrap(),
                SdkBody::empty(),
            );
            let err: SdkError<aws_smithy_types::error::ErrorMetadata, _> =
                SdkError::service_error(meta, raw);
            aws_error("CreateThing", err)
        };
        for (code, says) in [
            ("AccessDenied", "lacks this permission"),
            ("ThrottlingException", "throttling"),
            ("LimitExceededException", "quota"),
            ("NoSuchEntity", "deleted outside stackctl"),
            ("DependencyViolation", "wait a few minutes"),
            ("InvalidParameterValue", "check the variable"),
            ("InternalFailure", "on its side"),
            ("SomethingNew", "CreateThing failed in AWS"),
        ] {
            let e = answer(code);
            let hint = e
                .hint
                .as_deref()
                .unwrap_or_else(|| panic!("{code}: no hint"));
            assert!(hint.contains(says), "{code}: {hint}");
            assert!(e.to_string().contains("\n  hint: "), "{e}");
        }
    }
}
