//! What AWS call a request is (its service, operation and protocol) and AWS's error answers
//! in that protocol, for the faults the proxy injects and the refusals of the lifecycle layer.

use super::faults::Fault;
use super::http::{answer_bytes, Request};

impl Request {
    /// The signing name of the SigV4 credential scope: `Credential=AKID/date/region/SERVICE/aws4_request`.
    pub(super) fn service(&self) -> String {
        let auth = self.header("authorization").unwrap_or_default();
        auth.split("Credential=")
            .nth(1)
            .and_then(|c| c.split([',', ' ']).next())
            .and_then(|scope| scope.split('/').nth(3))
            .unwrap_or("unknown")
            .to_owned()
    }

    /// The protocol of the service's answers.
    fn protocol(&self, service: &str) -> Protocol {
        let ct = self
            .header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if service == "ec2" {
            Protocol::Ec2
        } else if service == "s3" {
            Protocol::RestXml
        } else if ct.starts_with("application/x-www-form-urlencoded") {
            Protocol::Query
        } else {
            Protocol::Json
        }
    }

    /// The request as the lifecycle layer reads it.
    pub(super) fn call(&self) -> crate::lifecycle::Call {
        let form = self
            .header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded");
        crate::lifecycle::Call::new(
            self.service(),
            self.operation(),
            &self.path,
            &self.body,
            form,
        )
    }

    /// The operation, as [`Event::operation`](crate::proxy::Event::operation) names it.
    pub(super) fn operation(&self) -> String {
        if let Some(target) = self.header("x-amz-target") {
            return target.rsplit('.').next().unwrap_or(target).to_owned();
        }
        let ct = self
            .header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if ct.starts_with("application/x-www-form-urlencoded") {
            if let Some(action) = std::str::from_utf8(&self.body)
                .ok()
                .and_then(|b| b.split('&').find_map(|kv| kv.strip_prefix("Action=")))
            {
                return action.to_owned();
            }
        }
        // REST: the method and the path, ids (`fs-0123abcd`, `fsmt-...`) replaced by `{id}`.
        let path: Vec<&str> = self
            .path
            .split('?')
            .next()
            .unwrap_or_default()
            .split('/')
            .map(|seg| {
                let id = is_id(seg);
                if id {
                    "{id}"
                } else {
                    seg
                }
            })
            .collect();
        format!("{} {}", self.method, path.join("/"))
    }
}

/// Whether a path segment is a resource id (`fs-0123abcd`, `fsmt-caaeddcf`) rather than a
/// word of the API (`file-systems`, `mount-targets`): a prefix, a dash, then a digit somewhere
/// or at least 8 hex digits (an id of letters only happens: `caaeddcf` is hex).
fn is_id(seg: &str) -> bool {
    let Some((prefix, rest)) = seg.split_once('-') else {
        return false;
    };
    !prefix.is_empty()
        && !seg.starts_with(|c: char| c.is_ascii_digit())
        && (seg.chars().any(|c| c.is_ascii_digit())
            || (rest.len() >= 8 && rest.chars().all(|c| c.is_ascii_hexdigit())))
}

/// A service's protocol, which sets the format of its error answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    /// EC2's query protocol: `<Response><Errors>...`.
    Ec2,
    /// The AWS query protocol (IAM, RDS, ELBv2...): `<ErrorResponse>...`.
    Query,
    /// awsJson 1.0/1.1 and restJson1: `x-amzn-ErrorType` and `{"__type": ...}`.
    Json,
    /// S3's REST-XML: `<Error><Code>...` (whatever content type the request's body had).
    RestXml,
}

/// The answer for an injected 500, 503, throttling, access-denied, expired-token or conflict
/// fault, in the service's error format.
pub(super) fn fault_answer(req: &Request, fault: Fault, keep_alive: bool) -> Vec<u8> {
    let service = req.service();
    let protocol = req.protocol(&service);
    // (status, code, message, query fault type)
    let (status, code, message, sender) = match (fault, protocol) {
        (Fault::Throttle, Protocol::Ec2) => (503, "RequestLimitExceeded", "Request limit exceeded.", false),
        (Fault::Throttle, Protocol::Query) => (400, "Throttling", "Rate exceeded", true),
        (Fault::Throttle, Protocol::Json) => (400, "ThrottlingException", "Rate exceeded", true),
        (Fault::Throttle, Protocol::RestXml) => (503, "SlowDown", "Please reduce your request rate.", false),
        (Fault::Http500, Protocol::Ec2) => (500, "InternalError", "An internal error has occurred. (injected by the fault proxy)", false),
        (Fault::Http500, _) => (500, "InternalFailure", "The request processing has failed because of an unknown error. (injected by the fault proxy)", false),
        (Fault::Http503, Protocol::Ec2) => (503, "Unavailable", "The server is overloaded and can't handle the request. (injected by the fault proxy)", false),
        (Fault::Http503, _) => (503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server. (injected by the fault proxy)", false),
        (Fault::AccessDenied, Protocol::Ec2) => (403, "UnauthorizedOperation", "You are not authorized to perform this operation. (injected by the fault proxy)", true),
        (Fault::AccessDenied, Protocol::Query | Protocol::RestXml) => (403, "AccessDenied", "User is not authorized to perform this action (injected by the fault proxy)", true),
        (Fault::AccessDenied, Protocol::Json) => (400, "AccessDeniedException", "User is not authorized to perform this action (injected by the fault proxy)", true),
        (Fault::ExpiredToken, Protocol::Json) => (400, "ExpiredTokenException", "The security token included in the request is expired", true),
        (Fault::ExpiredToken, _) => (403, "ExpiredToken", "The security token included in the request is expired", true),
        (Fault::Conflict, _) => (409, "ConditionalRequestConflict", "A conflicting operation occurred. If using PutObject you can retry the request. (injected by the fault proxy)", true),
        (Fault::Drop | Fault::Timeout | Fault::LostAnswer, _) => unreachable!("{fault} has no answer"),
    };
    error_answer(req, status, code, message, sender, keep_alive)
}

/// An AWS error answer in the service's protocol: `sender` is the query protocol's fault type
/// (the caller's fault rather than the service's).
pub(super) fn error_answer(
    req: &Request,
    status: u16,
    code: &str,
    message: &str,
    sender: bool,
    keep_alive: bool,
) -> Vec<u8> {
    let service = req.service();
    let protocol = req.protocol(&service);
    let request_id = "fa017000-0000-4000-8000-000000000000";
    let (content_type, body) = match protocol {
        Protocol::Ec2 => (
            "text/xml;charset=UTF-8".to_owned(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
            ),
        ),
        Protocol::Query => (
            "text/xml".to_owned(),
            format!(
                "<ErrorResponse><Error><Type>{}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                if sender { "Sender" } else { "Receiver" }
            ),
        ),
        Protocol::RestXml => (
            "application/xml".to_owned(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
            ),
        ),
        Protocol::Json => {
            let ct = req.header("content-type").unwrap_or_default();
            let ct = if ct.starts_with("application/x-amz-json") {
                ct.to_owned()
            } else {
                "application/json".to_owned()
            };
            (ct, format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"))
        }
    };
    let mut headers: Vec<(String, Vec<u8>)> = vec![
        ("content-type".into(), content_type.into_bytes()),
        ("x-amzn-requestid".into(), request_id.as_bytes().to_vec()),
    ];
    if protocol == Protocol::Json {
        headers.push(("x-amzn-errortype".into(), code.as_bytes().to_vec()));
    }
    answer_bytes(req, status, &headers, body.as_bytes(), keep_alive, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_rest_paths_are_told_from_words() {
        for id in [
            "fs-0123abcd",
            "fsmt-caaeddcf",
            "fsmt-1b13bfd7",
            "fs-95e770c9",
        ] {
            assert!(is_id(id), "{id}");
        }
        for word in [
            "file-systems",
            "mount-targets",
            "security-groups",
            "2015-02-01",
            "x",
        ] {
            assert!(!is_id(word), "{word}");
        }
    }
}
