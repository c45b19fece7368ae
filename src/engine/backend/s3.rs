//! The S3 backend: the state as one object, written only if it is still the version this run
//! read (`If-Match`, or `If-None-Match: *` for the first), and locked ([`remote_lock`]) by a
//! `<key>.tflock` object written only if absent and/or a DynamoDB item with the `LockID` key, as
//! Terraform does.

pub mod remote_lock;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use stackctl_contract::aws_error;

use super::BackendConfig;
use crate::engine::state::{State, StateError};

/// Where [`S3Store::save_errored`] writes, relative to the working directory: beside the local
/// states (`.stackctl/`), in a directory of its own.
const ERRORED_DIR: &str = ".stackctl/errored";

/// The hint of a failed write when no local copy could be saved.
const REWRITE_HINT: &str = "nothing AWS created is lost: it is found again by name; fix the access to the bucket, then re-run the same command";

/// One remote state: bucket, key, clients, and the ETag of the version last read or written.
#[derive(Clone)]
pub struct S3Store {
    inner: Arc<Inner>,
}

struct Inner {
    s3: aws_sdk_s3::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    bucket: String,
    key: String,
    lockfile: bool,
    table: Option<String>,
    encrypt: bool,
    kms_key_id: Option<String>,
    /// How to name this stack on the command line, in hints (`-var-file dev.toml`).
    locate: String,
    /// `None` before a read or when there was no object: the next write must create it.
    etag: Mutex<Option<String>>,
}

/// The S3 client for `sdk`: path-style addressing when an endpoint override is set, as local
/// emulators serve buckets under the path rather than as subdomains.
pub fn s3_client(sdk: &aws_types::SdkConfig) -> aws_sdk_s3::Client {
    let path_style = sdk.endpoint_url().is_some();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .build(),
    )
}

/// Whether AWS refused a conditional request because its condition did not hold (412): the
/// object is not the version the request names, which may be because a retry of this very
/// request met what its first attempt wrote.
fn precondition_failed<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool {
    let status = err.raw_response().map(|r| r.status().as_u16());
    status == Some(412) || err.code() == Some("PreconditionFailed")
}

/// S3's 409 `ConditionalRequestConflict`: another conditional write to the key was in flight
/// (possibly this run's own first attempt, whose answer was lost). AWS says to retry it.
fn conflict<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool {
    let status = err.raw_response().map(|r| r.status().as_u16());
    status == Some(409) || err.code() == Some("ConditionalRequestConflict")
}

/// How many times a conditional request is sent while S3 answers 409, and the first pause.
const CONFLICT_ATTEMPTS: u32 = 6;
const CONFLICT_BACKOFF: Duration = Duration::from_millis(200);

/// Send the request `send` builds, again while S3 answers 409 `ConditionalRequestConflict`,
/// with jittered exponential back-off (200 ms, 400 ms, ... 3.2 s); the SDK does not retry
/// 409 itself. The last answer, whatever it is.
async fn retry_conflicts<T, E, F, Fut>(
    mut send: F,
) -> Result<T, SdkError<E, aws_smithy_runtime_api::http::Response>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, aws_smithy_runtime_api::http::Response>>>,
{
    let mut pause = CONFLICT_BACKOFF;
    for _ in 1..CONFLICT_ATTEMPTS {
        match send().await {
            Err(e) if conflict(&e) => {
                let jitter = rand::random::<f64>() * 0.5 + 0.75;
                tokio::time::sleep(pause.mul_f64(jitter)).await;
                pause *= 2;
            }
            other => return other,
        }
    }
    send().await
}

/// [`aws_error`], with words for the answers S3 gives without a body (HEAD requests): the
/// SDK would show only a request id.
fn s3_error<E>(operation: &str, err: SdkError<E, aws_smithy_runtime_api::http::Response>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    match (err.code(), status) {
        (Some("NoSuchBucket"), _) => format!("{operation}: the bucket does not exist\n  hint: create it with `stackctl backend bootstrap -var-file FILE`, or correct bucket under [backend]"),
        (None, Some(403)) => format!("{operation}: access denied (HTTP 403)\n  hint: the AWS identity in use needs s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on the bucket, and no bucket policy may refuse it (a TLS-only policy refuses a plain-HTTP endpoint)"),
        (None, Some(301 | 400)) => format!("{operation}: the bucket is in another region (HTTP {})\n  hint: set region = \"...\" under [backend] to the bucket's region", status.unwrap_or_default()),
        (None, Some(code)) => format!("{operation}: HTTP {code} without a message"),
        _ => aws_error(operation, err).to_string(),
    }
}

fn not_found<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err.code(), Some("NoSuchKey" | "NotFound"))
}

impl S3Store {
    pub fn new(
        config: &BackendConfig,
        key: String,
        sdk: &aws_types::SdkConfig,
        locate: String,
    ) -> S3Store {
        S3Store {
            inner: Arc::new(Inner {
                s3: s3_client(sdk),
                dynamodb: aws_sdk_dynamodb::Client::new(sdk),
                bucket: config.bucket.clone(),
                key,
                lockfile: config.lockfile(),
                table: config.dynamodb_table.clone(),
                encrypt: config.encrypt,
                kms_key_id: config.kms_key_id.clone(),
                locate,
                etag: Mutex::new(None),
            }),
        }
    }

    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.inner.bucket, self.inner.key)
    }

    fn etag(&self) -> Option<String> {
        self.inner
            .etag
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_etag(&self, etag: Option<String>) {
        *self.inner.etag.lock().unwrap_or_else(|p| p.into_inner()) = etag;
    }

    fn read_error(&self, e: impl std::fmt::Display) -> StateError {
        StateError::RemoteRead {
            state: self.describe(),
            message: e.to_string(),
        }
    }

    pub async fn exists(&self) -> Result<bool, StateError> {
        let i = &self.inner;
        match i
            .s3
            .head_object()
            .bucket(&i.bucket)
            .key(&i.key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if not_found(&e) => Ok(false),
            Err(e) => Err(self.read_error(s3_error("s3:HeadObject", e))),
        }
    }

    /// The state, or `None` when there is no object yet; remembers its version for the next
    /// write.
    pub async fn load(&self) -> Result<Option<State>, StateError> {
        let i = &self.inner;
        let out = match i.s3.get_object().bucket(&i.bucket).key(&i.key).send().await {
            Ok(out) => out,
            Err(e) if not_found(&e) => {
                self.set_etag(None);
                return Ok(None);
            }
            Err(e) => return Err(self.read_error(s3_error("s3:GetObject", e))),
        };
        let etag = out.e_tag().map(str::to_owned);
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| self.read_error(format!("reading the object: {e}")))?
            .into_bytes();
        let text = String::from_utf8_lossy(&bytes);
        let state = State::parse(&std::path::PathBuf::from(self.describe()), &text)?;
        self.set_etag(etag);
        Ok(Some(state))
    }

    /// Write `state` (serial bumped) only if the object is still the version last read or
    /// written: a second writer gets [`StateError::Changed`] and overwrites nothing. When S3
    /// cannot be written at all, the state is saved locally instead ([`S3Store::save_errored`])
    /// and the error says where.
    pub async fn save(&self, state: &mut State) -> Result<(), StateError> {
        state.serial += 1;
        state.stackctl_version = env!("CARGO_PKG_VERSION").to_owned();
        let mut json = serde_json::to_vec_pretty(state).map_err(|e| StateError::RemoteWrite {
            state: self.describe(),
            message: e.to_string(),
            hint: REWRITE_HINT.to_owned(),
        })?;
        json.push(b'\n');
        let i = &self.inner;
        let expected = self.etag();
        let sent = retry_conflicts(|| {
            let put = self
                .put(&i.key, json.clone())
                .content_type("application/json");
            match &expected {
                Some(etag) => put.if_match(etag),
                None => put.if_none_match("*"),
            }
            .send()
        })
        .await;
        let failure = match sent {
            Ok(out) => {
                self.set_etag(out.e_tag().map(str::to_owned));
                return Ok(());
            }
            // The SDK retries a request whose answer was lost: its retry then finds the object
            // its first attempt wrote, no longer the version it names. Exactly what this run
            // sent is this run's write; anything else is another writer's.
            Err(e) if precondition_failed(&e) || conflict(&e) || not_found(&e) => {
                match self.current_if(&json).await {
                    Ok(Some(etag)) => {
                        self.set_etag(Some(etag));
                        return Ok(());
                    }
                    Ok(None) => {
                        state.serial -= 1;
                        return Err(StateError::Changed {
                            state: self.describe(),
                        });
                    }
                    Err(message) => message,
                }
            }
            Err(e) => s3_error("s3:PutObject", e),
        };
        state.serial -= 1;
        // One hint line: what to fix (the SDK error's own hint, if any), then the local copy.
        let (message, fix) = match failure.split_once("\n  hint: ") {
            Some((m, h)) => (m.to_owned(), format!("{h}. ")),
            None => (failure, String::new()),
        };
        let hint = match self.save_errored(state) {
            Ok(file) => format!(
                "{fix}What this run recorded is saved in {file} (fingerprints, never passwords); once the bucket can be written, `stackctl state push {file} {}` puts it back, then re-run the same command",
                i.locate,
                file = file.display(),
            ),
            // The local error's first line only: its own hint is about a local state.
            Err(e) => format!(
                "{fix}{REWRITE_HINT} (saving it locally failed too: {})",
                e.to_string().lines().next().unwrap_or_default()
            ),
        };
        Err(StateError::RemoteWrite {
            state: self.describe(),
            message,
            hint,
        })
    }

    /// The current object's ETag if its content is exactly `body`; `None` if it is something
    /// else or gone.
    async fn current_if(&self, body: &[u8]) -> Result<Option<String>, String> {
        let i = &self.inner;
        let out = match i.s3.get_object().bucket(&i.bucket).key(&i.key).send().await {
            Ok(out) => out,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(s3_error("s3:GetObject", e)),
        };
        let etag = out.e_tag().map(str::to_owned);
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| format!("reading the object back: {e}"))?
            .into_bytes();
        Ok(etag.filter(|_| bytes.as_ref() == body))
    }

    /// Where a state that cannot be written to S3 is saved instead, as Terraform's
    /// `errored.tfstate`: `.stackctl/errored/<key>` in the working directory (a directory of
    /// its own, so that it is never taken for a local state).
    pub fn errored_path(&self) -> PathBuf {
        PathBuf::from(ERRORED_DIR).join(self.inner.key.replace(['/', '\\'], "_"))
    }

    /// Save `state` (serial bumped, as the write that failed had it) at [`Self::errored_path`].
    /// It holds what the remote copy would: fingerprints of secrets, never their values.
    fn save_errored(&self, state: &State) -> Result<PathBuf, StateError> {
        let path = self.errored_path();
        state.clone().save(&path)?;
        Ok(path)
    }

    /// A PutObject of `body` at `key` with the backend's encryption.
    fn put(
        &self,
        key: &str,
        body: Vec<u8>,
    ) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
        let i = &self.inner;
        let mut put =
            i.s3.put_object()
                .bucket(&i.bucket)
                .key(key)
                .body(ByteStream::from(body));
        if i.encrypt {
            put = match &i.kms_key_id {
                Some(kms) => put
                    .server_side_encryption(ServerSideEncryption::AwsKms)
                    .ssekms_key_id(kms),
                None => put.server_side_encryption(ServerSideEncryption::Aes256),
            };
        }
        put
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackctl_testkit::Moto;

    pub(super) async fn store(moto: &Moto, bucket: &str) -> S3Store {
        let sdk = moto.sdk_config().await;
        let region = sdk.region().unwrap().to_string();
        s3_client(&sdk)
            .create_bucket()
            .bucket(bucket)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(region.as_str().into())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let toml: toml::Value = toml::from_str(&format!("bucket = {bucket:?}")).unwrap();
        let config = BackendConfig::parse(std::path::Path::new("dev.toml"), &toml).unwrap();
        S3Store::new(&config, "s.json".into(), &sdk, "-var-file dev.toml".into())
    }

    /// Two writers read serial 1; the first saves, the second is refused and overwrote
    /// nothing.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_second_writer_from_the_same_serial_is_refused() {
        let moto = Moto::start();
        let first = store(&moto, "state").await;
        let mut state = State::new();
        first.save(&mut state).await.unwrap();
        let a = store_again(&first);
        let b = store_again(&first);
        let mut sa = a.load().await.unwrap().unwrap();
        let mut sb = b.load().await.unwrap().unwrap();
        assert_eq!((sa.serial, sb.serial), (1, 1));
        sa.outputs.insert(
            "x".into(),
            crate::engine::state::Output {
                value: serde_json::json!("a"),
                sensitive: false,
            },
        );
        a.save(&mut sa).await.unwrap();
        let err = b.save(&mut sb).await.unwrap_err().to_string();
        assert!(
            err.contains("state s3://state/s.json changed since this run read it"),
            "{err}"
        );
        assert_eq!(sb.serial, 1);
        let back = first.load().await.unwrap().unwrap();
        assert_eq!(back.serial, 2);
        assert!(back.outputs.contains_key("x"));
        // A first write where another one already created the object is refused too.
        let fresh = store_again(&first);
        let err = fresh.save(&mut State::new()).await.unwrap_err();
        assert!(matches!(err, StateError::Changed { .. }), "{err}");
    }

    /// A write sent again after S3 stored it (its answer lost, the SDK retrying) meets its own
    /// first attempt: 412, then the read-back is exactly what was sent, so it is a success, and
    /// the version it names is the new one: the next write succeeds.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_retried_write_that_meets_its_own_first_attempt_succeeds() {
        let moto = Moto::start();
        let s = store(&moto, "state").await;
        let mut state = State::new();
        s.save(&mut state).await.unwrap();
        let before = s.etag();
        s.save(&mut state).await.unwrap();
        // The same write again, conditional on the version before it: as the SDK's retry is.
        s.set_etag(before);
        state.serial -= 1;
        s.save(&mut state).await.unwrap();
        assert_eq!(state.serial, 2);
        s.save(&mut state).await.unwrap();
        assert_eq!(s.load().await.unwrap().unwrap().serial, 3);
        // Not what this run sent: another writer's, refused.
        let other = store_again(&s);
        let mut theirs = other.load().await.unwrap().unwrap();
        theirs.outputs.insert(
            "x".into(),
            crate::engine::state::Output {
                value: serde_json::json!("theirs"),
                sensitive: false,
            },
        );
        s.save(&mut state).await.unwrap();
        let err = other.save(&mut theirs).await.unwrap_err();
        assert!(matches!(err, StateError::Changed { .. }), "{err}");
    }

    /// Another handle on the same object, with no version read yet.
    fn store_again(s: &S3Store) -> S3Store {
        let i = &s.inner;
        S3Store {
            inner: Arc::new(Inner {
                s3: i.s3.clone(),
                dynamodb: i.dynamodb.clone(),
                bucket: i.bucket.clone(),
                key: i.key.clone(),
                lockfile: i.lockfile,
                table: i.table.clone(),
                encrypt: i.encrypt,
                kms_key_id: i.kms_key_id.clone(),
                locate: i.locate.clone(),
                etag: Mutex::new(None),
            }),
        }
    }
}
