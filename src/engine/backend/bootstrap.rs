//! `stackctl backend bootstrap`: the bucket a remote state needs (versioning, encryption, no
//! public access, TLS only) and optionally the DynamoDB lock table, each step checked first so
//! a second run changes nothing and says so.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
};
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::{json, Value as J};
use stackctl_contract::aws_error;

use super::s3::s3_client;

/// What to set up.
pub struct Plan {
    pub bucket: String,
    pub region: String,
    pub partition: String,
    pub table: Option<String>,
    pub kms_key_id: Option<String>,
}

/// One step: what was checked, and whether it had to change.
pub struct Step {
    pub what: String,
    pub changed: bool,
}

/// The statement stackctl adds to the bucket policy; found again by its Sid.
const TLS_SID: &str = "StackctlDenyInsecureTransport";

fn step(what: impl Into<String>, changed: bool) -> Step {
    Step {
        what: what.into(),
        changed,
    }
}

pub async fn run(sdk: &aws_types::SdkConfig, plan: &Plan) -> Result<Vec<Step>> {
    let s3 = s3_client(sdk);
    let b = plan.bucket.as_str();
    let mut steps = Vec::new();

    match s3.head_bucket().bucket(b).send().await {
        Ok(_) => steps.push(step(format!("bucket {b}: exists"), false)),
        Err(e) if e.code() == Some("NotFound") || e.code() == Some("NoSuchBucket") => {
            let mut create = s3.create_bucket().bucket(b);
            if plan.region != "us-east-1" {
                create = create.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(plan.region.as_str()))
                        .build(),
                );
            }
            match create.send().await {
                Ok(_) => steps.push(step(format!("bucket {b}: created in {}", plan.region), true)),
                Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => {
                    steps.push(step(format!("bucket {b}: exists"), false))
                }
                Err(e) if e.code() == Some("BucketAlreadyExists") => bail!(
                    "bucket name {b} is taken by another AWS account (bucket names are global); nothing was created\n  hint: choose another name with -bucket NAME or bucket = \"...\" under [backend]"
                ),
                Err(e) => return Err(aws_error("s3:CreateBucket", e).into()),
            }
        }
        Err(e) if e.code() == Some("Forbidden") || e.code() == Some("AccessDenied") => bail!(
            "bucket {b} exists but these credentials cannot use it (another account's, or no s3:ListBucket); nothing was changed\n  hint: choose another name with -bucket NAME, or use the credentials of the bucket's account"
        ),
        Err(e) => return Err(aws_error("s3:HeadBucket", e).into()),
    }

    let enabled = s3
        .get_bucket_versioning()
        .bucket(b)
        .send()
        .await
        .map_err(|e| aws_error("s3:GetBucketVersioning", e))?
        .status()
        == Some(&BucketVersioningStatus::Enabled);
    if enabled {
        steps.push(step("versioning: enabled", false));
    } else {
        s3.put_bucket_versioning()
            .bucket(b)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error("s3:PutBucketVersioning", e))?;
        steps.push(step("versioning: enabled now", true));
    }

    steps.push(encryption(&s3, b, plan.kms_key_id.as_deref()).await?);

    let blocked = match s3.get_public_access_block().bucket(b).send().await {
        Ok(out) => out.public_access_block_configuration().is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        }),
        Err(e) if e.code() == Some("NoSuchPublicAccessBlockConfiguration") => false,
        Err(e) => return Err(aws_error("s3:GetPublicAccessBlock", e).into()),
    };
    if blocked {
        steps.push(step("public access: blocked", false));
    } else {
        s3.put_public_access_block()
            .bucket(b)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error("s3:PutPublicAccessBlock", e))?;
        steps.push(step("public access: blocked now", true));
    }

    // The TLS-only statement is added to whatever policy the bucket has: a bucket that already
    // existed keeps its other statements.
    let policy = match s3.get_bucket_policy().bucket(b).send().await {
        Ok(out) => out.policy().map(str::to_owned),
        Err(e) if e.code() == Some("NoSuchBucketPolicy") => None,
        Err(e) => return Err(aws_error("s3:GetBucketPolicy", e).into()),
    };
    let mut doc: J = policy
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_else(|| json!({"Version": "2012-10-17", "Statement": []}));
    let has_tls = doc["Statement"]
        .as_array()
        .is_some_and(|s| s.iter().any(|st| st["Sid"] == TLS_SID));
    let plain_http = sdk
        .endpoint_url()
        .filter(|u| u.starts_with("http://"))
        .map(str::to_owned);
    if has_tls {
        steps.push(step("bucket policy: TLS only", false));
    } else if let Some(url) = plain_http {
        // The statement would refuse every request of this very endpoint, stackctl's included.
        steps.push(step(
            format!("bucket policy: TLS-only statement not added: the endpoint {url} is plain HTTP, which it would refuse"),
            false,
        ));
    } else {
        let statement = tls_only(&plan.partition, b);
        match doc["Statement"].as_array_mut() {
            Some(list) => list.push(statement),
            None => doc["Statement"] = json!([statement]),
        }
        s3.put_bucket_policy()
            .bucket(b)
            .policy(doc.to_string())
            .send()
            .await
            .map_err(|e| aws_error("s3:PutBucketPolicy", e))?;
        steps.push(step("bucket policy: TLS only now", true));
    }

    if let Some(table) = &plan.table {
        steps.push(lock_table(sdk, table).await?);
    }
    Ok(steps)
}

/// The bucket's default encryption: SSE-S3, or SSE-KMS with the `[backend]` table's key. It
/// is only ever raised: a bucket encrypted as strongly (another KMS key) or more strongly
/// (SSE-KMS over SSE-S3, DSSE-KMS over SSE-KMS) keeps what it has, and the step says what was
/// found and what bootstrap would have set.
async fn encryption(s3: &aws_sdk_s3::Client, b: &str, kms_key_id: Option<&str>) -> Result<Step> {
    let wanted = match kms_key_id {
        Some(_) => ServerSideEncryption::AwsKms,
        None => ServerSideEncryption::Aes256,
    };
    let label = describe_sse(&wanted, kms_key_id);
    let current = match s3.get_bucket_encryption().bucket(b).send().await {
        Ok(out) => out
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default())
            .map(|d| {
                (
                    d.sse_algorithm().clone(),
                    d.kms_master_key_id().map(str::to_owned),
                )
            }),
        Err(e) if e.code() == Some("ServerSideEncryptionConfigurationNotFoundError") => None,
        Err(e) => return Err(aws_error("s3:GetBucketEncryption", e).into()),
    };
    let was = match &current {
        Some((algorithm, key)) if *algorithm == wanted && key.as_deref() == kms_key_id => {
            return Ok(step(format!("default encryption: {label}"), false));
        }
        Some((algorithm, key)) => {
            let found = describe_sse(algorithm, key.as_deref());
            if strength(algorithm) > strength(&wanted) {
                return Ok(step(
                    format!("default encryption: {found}, kept: bootstrap would set {label}, which is weaker"),
                    false,
                ));
            }
            if strength(algorithm) == strength(&wanted) {
                return Ok(step(
                    format!("default encryption: {found}, kept: bootstrap would set {label}, another key; if that key should replace it, set it yourself (aws s3api put-bucket-encryption)"),
                    false,
                ));
            }
            format!(" (was {found})")
        }
        None => String::new(),
    };
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(wanted)
        .set_kms_master_key_id(kms_key_id.map(str::to_owned))
        .build()?;
    s3.put_bucket_encryption()
        .bucket(b)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(default)
                        .build(),
                )
                .build()?,
        )
        .send()
        .await
        .map_err(|e| aws_error("s3:PutBucketEncryption", e))?;
    Ok(step(
        format!("default encryption: {label} set now{was}"),
        true,
    ))
}

/// How strongly a default encryption protects the state: SSE-S3, then SSE-KMS, then DSSE-KMS
/// (two layers). One S3 adds later ranks above all, so that it is never replaced.
fn strength(algorithm: &ServerSideEncryption) -> u8 {
    match algorithm {
        ServerSideEncryption::Aes256 => 1,
        ServerSideEncryption::AwsKms => 2,
        ServerSideEncryption::AwsKmsDsse => 3,
        _ => u8::MAX,
    }
}

/// An encryption as users know it: `SSE-KMS with arn:...`.
fn describe_sse(algorithm: &ServerSideEncryption, key: Option<&str>) -> String {
    let name = match algorithm {
        ServerSideEncryption::Aes256 => return "SSE-S3 (AES256)".to_owned(),
        ServerSideEncryption::AwsKms => "SSE-KMS".to_owned(),
        ServerSideEncryption::AwsKmsDsse => "DSSE-KMS".to_owned(),
        other => other.as_str().to_owned(),
    };
    match key {
        Some(k) => format!("{name} with {k}"),
        None => format!("{name} with the AWS managed key"),
    }
}

/// The statement that refuses every request to the bucket that does not come over TLS.
fn tls_only(partition: &str, bucket: &str) -> J {
    let arn = format!("arn:{partition}:s3:::{bucket}");
    json!({
        "Sid": TLS_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, format!("{arn}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    })
}

/// The DynamoDB lock table: a `LockID` string hash key, billed per request (the seed's layout).
async fn lock_table(sdk: &aws_types::SdkConfig, table: &str) -> Result<Step> {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    match ddb.describe_table().table_name(table).send().await {
        Ok(out) => {
            let keys: Vec<String> = out
                .table()
                .map(|t| {
                    t.key_schema()
                        .iter()
                        .map(|k| k.attribute_name().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            if keys != ["LockID"] {
                bail!(
                    "DynamoDB table {table} exists, but its key is {} rather than the single string key LockID a lock table has; nothing was changed\n  hint: name another table with -dynamodb-table NAME (or dynamodb_table under [backend])",
                    keys.join(", ")
                );
            }
            return Ok(step(format!("DynamoDB lock table {table}: exists"), false));
        }
        Err(e) if e.code() == Some("ResourceNotFoundException") => {}
        Err(e) => return Err(aws_error("dynamodb:DescribeTable", e).into()),
    }
    ddb.create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("LockID")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("LockID")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| aws_error("dynamodb:CreateTable", e))?;
    // A new table takes a few seconds to become usable.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        let status = ddb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .ok()
            .and_then(|o| o.table().and_then(|t| t.table_status().cloned()));
        if status == Some(TableStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Ok(step(format!("DynamoDB lock table {table}: created"), true))
}

#[cfg(test)]
mod tests {
    #[test]
    fn encryption_ranks_from_sse_s3_to_dsse_kms_and_an_unknown_one_above_all() {
        use aws_sdk_s3::types::ServerSideEncryption as Sse;
        let ranks: Vec<u8> = [
            Sse::Aes256,
            Sse::AwsKms,
            Sse::AwsKmsDsse,
            Sse::from("aws:future"),
        ]
        .iter()
        .map(super::strength)
        .collect();
        assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
        assert_eq!(
            super::describe_sse(&Sse::AwsKms, None),
            "SSE-KMS with the AWS managed key"
        );
    }

    #[test]
    fn the_tls_statement_denies_plain_http_on_the_bucket_and_its_objects() {
        let st = super::tls_only("aws", "b");
        assert_eq!(st["Effect"], "Deny");
        assert_eq!(st["Condition"]["Bool"]["aws:SecureTransport"], "false");
        assert_eq!(
            st["Resource"],
            serde_json::json!(["arn:aws:s3:::b", "arn:aws:s3:::b/*"])
        );
    }
}
