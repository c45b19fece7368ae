//! S3 under the lifecycle layer: moto's answers S3 gives in another shape, rewritten to S3's.
//!
//! GetBucketVersioning: moto 5.2.5 names the answer's root element after the operation, where
//! S3 names it `VersioningConfiguration`; the SDK cannot parse moto's. stackctl's `backend
//! bootstrap` reads it as S3 answers it, so the layer gives it S3's shape.

use super::call::Call;

/// S3's namespace for its XML answers.
const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// After moto answered an S3 call: its answer as S3 gives it, when the shapes differ.
pub(super) fn rewrite(call: &Call, status: u16, text: &str) -> Option<(u16, String)> {
    let versioning = call.operation.starts_with("GET ") && call.params.contains_key("versioning");
    if !versioning || !(200..300).contains(&status) || text.contains("<VersioningConfiguration") {
        return None;
    }
    Some((status, versioning_configuration(text)))
}

/// The answer's root element renamed `VersioningConfiguration`, its content kept.
fn versioning_configuration(text: &str) -> String {
    let body = match text.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(rest, |(_, b)| b),
        None => text,
    }
    .trim();
    // `<Root ...>inner</Root>` or `<Root/>`.
    let inner = body
        .split_once('>')
        .filter(|(open, _)| !open.ends_with('/'))
        .and_then(|(_, rest)| rest.rsplit_once("</").map(|(inner, _)| inner))
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<VersioningConfiguration xmlns=\"{S3_XMLNS}\">{inner}</VersioningConfiguration>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(target: &str) -> Call {
        Call::new("s3".into(), "GET /b".into(), target, b"", false)
    }

    #[test]
    fn a_versioning_answer_gets_s3s_root_element_and_keeps_its_status() {
        let moto = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<GetBucketVersioningOutput xmlns=\"x\"><Status>Enabled</Status></GetBucketVersioningOutput>";
        let (status, out) = rewrite(&call("/b?versioning"), 200, moto).unwrap();
        assert_eq!(status, 200);
        assert!(out.contains(&format!(
            "<VersioningConfiguration xmlns=\"{S3_XMLNS}\"><Status>Enabled</Status></VersioningConfiguration>"
        )));
        let (_, never) =
            rewrite(&call("/b?versioning"), 200, "<GetBucketVersioningOutput/>").unwrap();
        assert!(never.contains("<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></VersioningConfiguration>"));
        assert!(rewrite(&call("/b?encryption"), 200, moto).is_none());
        assert!(rewrite(&call("/b?versioning"), 404, moto).is_none());
    }
}
