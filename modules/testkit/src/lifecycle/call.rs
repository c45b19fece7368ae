//! One AWS call as the lifecycle layer reads it (its form, query and JSON parameters), and
//! what the layer answers instead of moto ([`Refusal`]).

use std::collections::HashMap;

use serde_json::Value;

/// One call as the layer sees it.
pub(crate) struct Call {
    pub service: String,
    pub operation: String,
    /// The path without the query string.
    pub path: String,
    /// Form parameters (query protocol) and query-string parameters.
    pub params: HashMap<String, String>,
    /// The JSON body, `Null` when there is none.
    pub json: Value,
}

impl Call {
    pub fn new(service: String, operation: String, target: &str, body: &[u8], form: bool) -> Call {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut params = parse_form(query);
        if form {
            params.extend(parse_form(std::str::from_utf8(body).unwrap_or_default()));
        }
        let json = if form || body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body).unwrap_or(Value::Null)
        };
        Call {
            service,
            operation,
            path: path.to_owned(),
            params,
            json,
        }
    }

    pub(super) fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// Values of the parameters whose names match `prefix.N[.suffix]`, such as `GroupId.1`.
    pub(super) fn params_like(&self, prefix: &str, suffix: &str) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(k, _)| {
                k.strip_prefix(prefix)
                    .and_then(|rest| rest.strip_prefix('.'))
                    .and_then(|rest| rest.strip_suffix(suffix))
                    .is_some_and(|n| {
                        !n.is_empty()
                            && n.split('.')
                                .all(|p| p.chars().all(|c| c.is_ascii_alphanumeric()))
                    })
            })
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The last segment of the path (the id of a REST call).
    pub(super) fn path_id(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }

    pub(super) fn str(&self, key: &str) -> Option<&str> {
        self.json.get(key).and_then(Value::as_str)
    }
}

/// What AWS would answer instead of doing the call: an error (`status` 4xx, `code`,
/// `message`), or, for a call moto does not implement, AWS's answer (`status` 2xx and `body`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// A JSON answer in place of moto's, when `status` is 2xx.
    pub body: Option<String>,
}

pub(super) fn refuse(status: u16, code: &str, message: impl Into<String>) -> Option<Refusal> {
    Some(Refusal {
        status,
        code: code.to_owned(),
        message: message.into(),
        body: None,
    })
}

/// The strings of a JSON array (none when it is not one).
pub(super) fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `a=1&b=x%20y` as a map, percent- and plus-decoded.
fn parse_form(s: &str) -> HashMap<String, String> {
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (url_decode(k), url_decode(v))
        })
        .collect()
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_decoded_and_matched_by_index() {
        let call = Call::new(
            "ec2".into(),
            "AuthorizeSecurityGroupIngress".into(),
            "/",
            b"Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpPermissions.1.Groups.1.GroupId=sg-2&IpPermissions.1.IpRanges.1.Description=a+b%2Fc",
            true,
        );
        assert_eq!(call.params_like("IpPermissions", ".GroupId"), ["sg-2"]);
        assert_eq!(
            call.param("IpPermissions.1.IpRanges.1.Description"),
            Some("a b/c")
        );
        assert!(call.params_like("GroupId", "").is_empty());
    }
}
