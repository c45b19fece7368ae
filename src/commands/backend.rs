//! `stackctl backend bootstrap`: create what a remote state needs, idempotently, and print the
//! `[backend]` table that points a var file at it.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::aws;
use crate::cli::args::{EndpointArgs, VarArgs};
use crate::engine::backend::bootstrap;
use crate::ops::locate::gather;
use crate::ui::Printer;

#[derive(Debug, Subcommand)]
pub enum BackendCommand {
    /// Create the state bucket (versioning, encryption, public access blocked, TLS only) and
    /// optionally the lock table; run again, it changes nothing. Prints the [backend] table
    Bootstrap(BootstrapArgs),
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    /// The bucket's name [default: the [backend] table's, else <project>-<environment>-tfstate-<account id>]
    #[arg(long = "bucket", value_name = "NAME")]
    pub bucket: Option<String>,
    /// Also create this DynamoDB lock table (key LockID) [default: the [backend] table's]
    #[arg(long = "dynamodb-table", value_name = "NAME")]
    pub dynamodb_table: Option<String>,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

pub async fn exec(command: BackendCommand, ui: Printer) -> Result<ExitCode> {
    match command {
        BackendCommand::Bootstrap(a) => bootstrap(a, ui).await,
    }
}

/// S3's rules for a bucket name, checked before any request so a typo costs nothing.
fn check_bucket_name(name: &str) -> Result<()> {
    let ok = (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !ok {
        bail!("{name:?} is not a valid S3 bucket name\n  hint: use 3 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit");
    }
    Ok(())
}

async fn bootstrap(args: BootstrapArgs, ui: Printer) -> Result<ExitCode> {
    let raw = gather(&args.vars.var_files, &args.vars.vars)?;
    let (project, env) = raw.project_env();
    let config = raw.backend.clone();
    let region = config
        .as_ref()
        .and_then(|c| c.region.clone())
        .unwrap_or_else(|| raw.region());
    let sdk = aws::sdk_config(&region, args.endpoint.endpoint_url.as_deref()).await;
    let identity = aws::identity(&sdk).await?;
    let bucket = args
        .bucket
        .clone()
        .or_else(|| config.as_ref().map(|c| c.bucket.clone()))
        .unwrap_or_else(|| format!("{project}-{env}-tfstate-{}", identity.account));
    check_bucket_name(&bucket)?;
    let table = args
        .dynamodb_table
        .clone()
        .or_else(|| config.as_ref().and_then(|c| c.dynamodb_table.clone()));
    let kms_key_id = config.as_ref().and_then(|c| c.kms_key_id.clone());
    let plan = bootstrap::Plan {
        bucket: bucket.clone(),
        region: region.clone(),
        partition: identity.partition.clone(),
        table: table.clone(),
        kms_key_id: kms_key_id.clone(),
    };
    let steps = bootstrap::run(&sdk, &plan).await?;
    let changed = steps.iter().any(|s| s.changed);
    let mut table_toml = format!("[backend]\nbucket = {bucket:?}\nregion = {region:?}\n");
    if let Some(t) = &table {
        table_toml.push_str(&format!("dynamodb_table = {t:?}\n"));
    }
    if let Some(k) = &kms_key_id {
        table_toml.push_str(&format!("kms_key_id = {k:?}\n"));
    }
    if ui.json() {
        ui.document(&json!({
            "bucket": bucket,
            "region": region,
            "dynamodb_table": table,
            "changed": changed,
            "steps": steps.iter().map(|s| json!({"step": s.what, "changed": s.changed})).collect::<Vec<_>>(),
            "backend": table_toml,
        }));
        return Ok(ExitCode::SUCCESS);
    }
    for s in &steps {
        ui.detail(&format!("  {}", s.what));
    }
    if changed {
        ui.result(&format!("\nBackend ready: s3://{bucket} in {region}."));
    } else {
        ui.result(&format!(
            "\nNothing to change: s3://{bucket} is already set up as a state backend."
        ));
    }
    let file = args
        .vars
        .var_files
        .last()
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "each environment's var file".to_owned());
    ui.result(&format!(
        "\nAdd this table at the end of {file} (the state key defaults to <project>-<environment>.json):\n\n{table_toml}\nA stack applied before then: `stackctl init -migrate-state -var-file FILE` copies its local state there."
    ));
    Ok(ExitCode::SUCCESS)
}
