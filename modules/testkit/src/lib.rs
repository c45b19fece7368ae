//! Test support: a private moto server (AWS emulator) on a free loopback port for each test,
//! and a fault-injecting proxy to put in front of it ([`proxy`]).
//!
//! Each test gets its own server so tests run in parallel without seeing each other's
//! resources. `scripts/install-moto.sh` installs the pinned moto; `MOTO_SERVER` may name
//! another `moto_server` executable.

pub mod lifecycle;
pub mod proxy;

pub use lifecycle::{CriticalPath, DbBusy, Failure, Graph, LayerStats, Profile, TargetTiming};
pub use proxy::{Event, Fault, FaultProxy, Faults, Outcome, Stats};

use std::collections::BTreeMap;

use serde_json::Value as J;
use stackctl_contract::{Instance, Resolve, ResourceSpec, Val, Values};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The moto version the project is tested against; `scripts/install-moto.sh` installs it.
pub const MOTO_VERSION: &str = "5.2.5";

/// The region the default VPC of the tests lives in (the seed's region).
pub const REGION: &str = "eu-west-3";

/// How many resources the whole stack has: what the plan of an empty account adds, what a
/// full apply records and what a destroy removes. One place to change when a kind joins.
pub const STACK_RESOURCES: usize = 24;

/// The same stack as the AWS provider's resources, as plans count them and Terraform's plan of
/// it lists them: the 24 plus each secret's value (`aws_secretsmanager_secret_version`), which
/// stackctl sets in the secret's own calls.
pub const PLANNED_RESOURCES: usize = 27;

/// What `examples/prod.toml` has on top of the dev stack (both counts): the EFS backup policy
/// (`efs_backup = true`).
pub const PROD_EXTRA_RESOURCES: usize = 1;

/// What the engine would resolve a module's references against in a module test: the
/// instances by address, real ones (`record`) or stand-ins for other modules' (`fake`, `set`).
#[derive(Default)]
pub struct Known(pub BTreeMap<String, Instance>);

impl Known {
    pub fn record(&mut self, address: &str, inst: &Instance) {
        self.0.insert(address.to_owned(), inst.clone());
    }

    /// A stand-in for a resource of another module, with these attributes (a JSON object).
    pub fn fake(&mut self, address: &str, attrs: J) {
        let attrs: Values = serde_json::from_value(attrs).expect("fake attributes: an object");
        self.0
            .insert(address.to_owned(), Instance::new("fake", attrs));
    }

    /// One attribute of a resource, made up if the resource is not there yet.
    pub fn set(&mut self, address: &str, attr: &str, value: J) {
        self.0
            .entry(address.to_owned())
            .or_insert_with(|| Instance::new("fake", Values::new()))
            .attrs
            .insert(attr.to_owned(), value);
    }
}

impl Resolve for Known {
    fn get(&self, address: &str, attr: &str) -> Val {
        self.0
            .get(address)
            .and_then(|i| i.attrs.get(attr))
            .cloned()
            .map(Val::Known)
            .unwrap_or(Val::Unknown)
    }
}

/// Desired attributes as the engine hands a plan's to `Kind::provider_values`: a value not
/// known yet as [`provider::UNKNOWN`](stackctl_contract::provider::UNKNOWN).
pub fn provider_object(desired: stackctl_contract::Attrs) -> stackctl_contract::provider::Object {
    engine_view(&[], desired)
}

/// Attributes as the engine hands them to `Kind::provider_values`: a value not known yet as
/// [`provider::UNKNOWN`](stackctl_contract::provider::UNKNOWN), a known one of a `sensitive`
/// attribute as [`provider::SENSITIVE`](stackctl_contract::provider::SENSITIVE).
pub fn engine_view(
    sensitive: &[&str],
    attrs: impl IntoIterator<Item = (String, Val)>,
) -> stackctl_contract::provider::Object {
    use stackctl_contract::provider::{SENSITIVE, UNKNOWN};
    attrs
        .into_iter()
        .map(|(k, v)| {
            let v = match v.known() {
                None => J::from(UNKNOWN),
                Some(_) if sensitive.contains(&k.as_str()) => J::from(SENSITIVE),
                Some(v) => v.clone(),
            };
            (k, v)
        })
        .collect()
}

/// An SDK configuration for kinds built in unit tests: nothing is ever sent with it.
pub fn offline_sdk() -> aws_types::SdkConfig {
    aws_types::SdkConfig::builder()
        .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new(REGION))
        .build()
}

/// `kind`'s translation of `attrs` to `type_name`, checked against the provider's schema.
pub fn translated(
    kind: &dyn stackctl_contract::Kind,
    type_name: &str,
    attrs: &stackctl_contract::provider::Object,
) -> stackctl_contract::provider::Object {
    let out = kind.provider_values(type_name, attrs);
    if let Err(e) = stackctl_contract::provider::check(type_name, &out) {
        panic!("{type_name}: {e}");
    }
    out
}

/// A security group in the default VPC `vpc_id`, for a module test's resources to point at.
pub async fn security_group(sdk: &aws_types::SdkConfig, vpc_id: &str, name: &str) -> String {
    aws_sdk_ec2::Client::new(sdk)
        .create_security_group()
        .group_name(name)
        .description("test")
        .vpc_id(vpc_id)
        .send()
        .await
        .expect("CreateSecurityGroup")
        .group_id()
        .expect("a group id")
        .to_owned()
}

/// The spec of `address` among `specs`.
pub fn spec<'a>(specs: &'a [ResourceSpec], address: &str) -> &'a ResourceSpec {
    specs
        .iter()
        .find(|s| s.address == address)
        .unwrap_or_else(|| panic!("no spec for {address}"))
}

/// A spec's desired values with every reference resolved; one still unknown is a bug in the
/// test (it has not recorded what the spec reads).
pub fn desired(spec: &ResourceSpec, known: &dyn Resolve) -> Values {
    spec.desired(known)
        .into_iter()
        .map(|(k, v)| match v {
            Val::Known(v) => (k, v),
            Val::Unknown => panic!("{}: `{k}` is still unknown", spec.address),
        })
        .collect()
}

/// Every desired attribute reads back equal, so the plan right after an apply is empty.
/// `what` names the resource in the failure (its address, or its id).
pub fn assert_converged(what: &str, desired: &Values, live: &Instance) {
    for (k, v) in desired {
        assert_eq!(
            live.attrs.get(k),
            Some(v),
            "{what}: attribute `{k}` differs from the desired value"
        );
    }
}

/// A running moto server, killed when dropped.
///
/// `endpoint` is moto behind the lifecycle layer at [`Profile::instant`]: every resource
/// ready at once as in moto, but with the fields moto drops (a service's health-check grace
/// period, its deployment configuration) answered as AWS echoes them, so that the product can
/// believe what AWS says. `raw_endpoint` is moto itself.
pub struct Moto {
    /// Dropped before the server.
    _echo: FaultProxy,
    child: Child,
    pub port: u16,
    pub endpoint: String,
    pub raw_endpoint: String,
}

/// Where the pinned moto_server is: `MOTO_SERVER`, else the project's venv, else `PATH`.
pub fn moto_server_path() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    if let Some(home) = std::env::var_os("HOME") {
        let p = PathBuf::from(home).join(format!(
            ".cache/stackctl/moto-{MOTO_VERSION}/bin/moto_server"
        ));
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("moto_server")
}

impl Moto {
    /// Start moto on a free loopback port and wait until it answers.
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// [`Moto::start`] with these environment variables over the suite's own
    /// (`MOTO_IAM_LOAD_MANAGED_POLICIES=false` for an emulator started as the README warns
    /// against).
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let path = moto_server_path();
        // Ask the kernel for a free port, release it, and hand it to moto. Another process could
        // take it in between; the retry below covers that rare case.
        for _attempt in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("no free loopback port");
            let mut child = Command::new(&path)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start {}: {e}; run scripts/install-moto.sh (or set MOTO_SERVER)",
                        path.display()
                    )
                });
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    let raw_endpoint = format!("http://127.0.0.1:{port}");
                    let echo = FaultProxy::start(
                        &raw_endpoint,
                        Faults::none().with_lifecycle(Profile::instant()),
                    );
                    return Moto {
                        endpoint: echo.endpoint.clone(),
                        _echo: echo,
                        child,
                        port,
                        raw_endpoint,
                    };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "moto_server ({}) did not start listening within 60 s",
            path.display()
        );
    }

    /// Wipe every resource (`POST /moto-api/reset`), so one server can serve many runs.
    pub fn reset(&self) {
        use std::io::{Read, Write};
        let mut conn = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        write!(conn, "POST /moto-api/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .expect("send the reset");
        let mut answer = String::new();
        conn.read_to_string(&mut answer)
            .expect("read moto's answer");
        assert!(
            answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
            "moto reset failed: {answer}"
        );
    }

    /// SDK configuration for this server, with dummy credentials and the test region.
    pub async fn sdk_config(&self) -> aws_types::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_types::sdk_config::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(
                    "testing",
                    "testing",
                    None,
                    None,
                    "stackctl-testkit",
                ),
            ))
            .load()
            .await
    }

    /// Environment variables that point the stackctl binary at this server.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_REGION".into(), REGION.into()),
            // Keep a developer's own profile and config out of the tests.
            ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
