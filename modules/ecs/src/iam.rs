//! What the IAM kinds (role, policy attachment, inline policy) share: IAM's error code for a
//! missing entity, its propagation delay, its policy documents, and its tags and tag calls.
//!
//! IAM answers policy documents URL-encoded; they are decoded and parsed so that they compare
//! equal, as JSON values, to the documents in the desired attributes.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_iam::types::Tag;
use serde_json::Value as J;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{aws_error, Instance, ResourceError, TagApi, Tags};

pub(crate) const NO_SUCH_ENTITY: &[&str] = &["NoSuchEntity"];

/// IAM is eventually consistent: what was just created may not be readable for a few seconds.
pub(crate) const PROPAGATION: Duration = Duration::from_secs(120);

/// Decode `%XX` escapes (RFC 3986, as IAM encodes documents); anything else is kept as is.
pub(crate) fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex);
            let lo = bytes.get(i + 2).copied().and_then(hex);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// A policy document as IAM returns it, as JSON; a document that does not parse is kept as a
/// string so the difference still shows.
pub(crate) fn policy_json(encoded: &str) -> J {
    let decoded = percent_decode(encoded);
    serde_json::from_str(&decoded).unwrap_or(J::String(decoded))
}

/// The policy document argument `key` as the text IAM takes: a JSON document, or a string that
/// already is one.
pub(crate) fn document(key: &str, v: &J) -> Result<String, ResourceError> {
    match v {
        J::String(s) => Ok(s.clone()),
        J::Object(_) => Ok(v.to_string()),
        _ => Err(ResourceError::internal(format!(
            "attribute `{key}` is missing or not a policy document"
        ))),
    }
}

pub(crate) fn iam_tags(tags: &Tags) -> Result<Option<Vec<Tag>>, ResourceError> {
    if tags.0.is_empty() {
        return Ok(None);
    }
    tags.0
        .iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| ResourceError::internal(format!("IAM tag {k}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// IAM's tag calls, for the roles (named by role name).
pub(crate) struct IamTagging<'a>(pub(crate) &'a aws_sdk_iam::Client);

impl TagApi for IamTagging<'_> {
    async fn tag(&self, name: &str, set: BTreeMap<String, String>) -> Result<(), ResourceError> {
        self.0
            .tag_role()
            .role_name(name)
            .set_tags(iam_tags(&Tags(set))?)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("TagRole", e))
    }

    async fn untag(&self, name: &str, keys: Vec<String>) -> Result<(), ResourceError> {
        self.0
            .untag_role()
            .role_name(name)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("UntagRole", e))
    }
}

/// Poll `read` until it finds what was just created, riding out IAM's propagation delay.
pub(crate) async fn until_visible<F, Fut>(what: &str, read: F) -> Result<Instance, ResourceError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<Instance>, ResourceError>>,
{
    let mut read = read;
    wait::until(what, Backoff::standard(PROPAGATION), || {
        let fut = read();
        async move {
            Ok(match fut.await? {
                Some(i) => Poll::Ready(i),
                None => Poll::Pending("not yet visible".into()),
            })
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_iam_documents() {
        let enc = "%7B%22Version%22%3A%20%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            policy_json(enc),
            json!({ "Version": "2012-10-17", "Statement": [] })
        );
        // Malformed escapes and multi-byte characters survive.
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%C3%A9"), "%zzé");
    }
}
