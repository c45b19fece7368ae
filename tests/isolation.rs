//! Never touch another stack: dev, staging and prod of one project side by side in one account,
//! same-named resources that lack the stack's tags, a state bound to its account and region,
//! and the first-contact errors (credentials, endpoint, permissions) of a real account.

mod common;

use std::time::{Duration, Instant};

use common::account::{self, Snapshot};
use common::{Run, Stack};
use stackctl_testkit::{
    Fault, FaultProxy, Faults, PLANNED_RESOURCES, PROD_EXTRA_RESOURCES, STACK_RESOURCES,
};

/// The account listing split in two: the lines that name `environment`'s resources (every
/// name carries it), and the rest.
fn split_env(snap: &Snapshot, environment: &str) -> (Snapshot, Snapshot) {
    let tag = format!("-{environment}");
    let (mut mine, mut rest) = (Snapshot::new(), Snapshot::new());
    for (k, lines) in snap {
        let (a, b): (Vec<String>, Vec<String>) =
            lines.iter().cloned().partition(|l| l.contains(&tag));
        mine.insert(*k, a);
        rest.insert(*k, b);
    }
    (mine, rest)
}

fn of_env(snap: &Snapshot, environment: &str) -> Snapshot {
    split_env(snap, environment).0
}

/// The lines one environment's stack makes in the account listing: its resources, less the
/// role policy and attachment (listed on their role's line): 4 groups, load balancer,
/// listener, target group, file system, 3 mount targets, database, subnet group, 3 secrets, log
/// group, 2 roles, cluster, service, revision.
const LISTED_PER_ENVIRONMENT: usize = STACK_RESOURCES - 2;

/// What prod's example has on top of dev's and staging's (its EFS backup policy, listed on a
/// line of its own).
fn prod_extra(environment: &str) -> usize {
    if environment == "prod" {
        PROD_EXTRA_RESOURCES
    } else {
        0
    }
}

fn total(snap: &Snapshot) -> usize {
    snap.values().map(Vec::len).sum()
}

#[track_caller]
fn refused(run: &Run, words: &[&str]) {
    assert_eq!(run.code, 1, "{run:?}");
    for w in words {
        assert!(
            run.stderr.contains(w),
            "{w:?} missing from:\n{}",
            run.stderr
        );
    }
}

/// dev, staging and prod of one project (the README's three examples) applied into one
/// account, then staging destroyed: dev and prod are exactly as they were. Without variables,
/// destroy cannot tell which of the three is meant and refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_environments_side_by_side_and_destroying_one_leaves_the_others() {
    let stack = Stack::new();
    let sdk = stack.sdk().await;
    for env in ["dev", "staging", "prod"] {
        let run = stack.cmd_for("apply", env).arg("-auto-approve").run();
        run.success();
        assert!(
            run.stdout.contains(&format!(
                "Apply complete! Resources: {} added, 0 changed, 0 destroyed.",
                PLANNED_RESOURCES + prod_extra(env)
            )),
            "{env}: {}",
            run.stdout
        );
        if env != "dev" {
            // A second stack of the same project is announced before its plan.
            assert!(
                run.stdout
                    .contains("This plan creates a second, separate stack"),
                "{env}: {}",
                run.stdout
            );
        }
    }
    let before = account::snapshot(&sdk).await;
    for env in ["dev", "staging", "prod"] {
        let mine = of_env(&before, env);
        assert_eq!(
            total(&mine),
            LISTED_PER_ENVIRONMENT + prod_extra(env),
            "{env}: {mine:#?}"
        );
    }

    let blind = stack.bare(&["destroy", "-auto-approve"]).run();
    refused(
        &blind,
        &["several states", "prestashop-staging.json", "-var-file"],
    );
    assert_eq!(
        account::snapshot(&sdk).await,
        before,
        "a refused destroy changed the account"
    );

    stack
        .cmd_for("destroy", "staging")
        .arg("-auto-approve")
        .run()
        .success();
    let after = account::snapshot(&sdk).await;
    assert_eq!(total(&of_env(&after, "staging")), 0, "{after:#?}");
    assert_eq!(
        after,
        split_env(&before, "staging").1,
        "destroying staging changed dev or prod"
    );
    // Every attribute of dev and prod still matches their states: no drift, nothing to do.
    for env in ["dev", "prod"] {
        let plan = stack.cmd_for("plan", env).arg("-detailed-exitcode").run();
        assert_eq!(plan.code, 0, "{env}: {}\n{}", plan.stdout, plan.stderr);
    }
    // The execution role of each environment reads only that environment's secrets.
    let iam = aws_sdk_iam::Client::new(&sdk);
    let policy = iam
        .get_role_policy()
        .role_name("prestashop-prod-ecs-task-execution-role")
        .policy_name("prestashop-prod-secrets-access")
        .send()
        .await
        .unwrap();
    let doc = common::decode_policy(policy.policy_document());
    assert_eq!(
        doc["Statement"][0]["Resource"],
        "arn:aws:secretsmanager:eu-west-3:123456789012:secret:prestashop-prod-*",
        "{doc}"
    );
}

/// The three kinds whose create can hand back an existing resource or collide by name.
const COLLIDING: [&str; 3] = [
    "module.ecs.aws_ecs_cluster.main",
    "module.efs.aws_efs_file_system.main",
    "module.rds.aws_db_subnet_group.main",
];

/// Someone else's cluster, file system and DB subnet group with this stack's names and no
/// tags: the file system's id, and the account as they leave it.
async fn same_named_resources_without_tags(sdk: &aws_types::SdkConfig) -> (String, Snapshot) {
    let ecs = aws_sdk_ecs::Client::new(sdk);
    ecs.create_cluster()
        .cluster_name("prestashop-dev-cluster")
        .send()
        .await
        .unwrap();
    let efs = aws_sdk_efs::Client::new(sdk);
    let theirs_fs = efs
        .create_file_system()
        .creation_token("prestashop-dev-efs")
        .send()
        .await
        .unwrap()
        .file_system_id()
        .to_owned();
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let subnets: Vec<String> = ec2
        .describe_subnets()
        .send()
        .await
        .unwrap()
        .subnets()
        .iter()
        .filter(|s| s.default_for_az() == Some(true))
        .filter_map(|s| s.subnet_id().map(str::to_owned))
        .collect();
    let rds = aws_sdk_rds::Client::new(sdk);
    rds.create_db_subnet_group()
        .db_subnet_group_name("prestashop-dev-db-subnet-group")
        .db_subnet_group_description("someone else's")
        .set_subnet_ids(Some(subnets))
        .send()
        .await
        .unwrap();
    (theirs_fs, account::snapshot(sdk).await)
}

/// Resources that have this stack's names but not its tags (someone else's, or made by hand):
/// the plan says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_named_resources_without_the_stacks_tags_are_planned_as_not_ours() {
    let stack = Stack::new();
    same_named_resources_without_tags(&stack.sdk().await).await;
    let plan = stack.cmd("plan").run();
    plan.success();
    for address in COLLIDING {
        let line = plan
            .stdout
            .lines()
            .find(|l| l.contains(&format!("# {address} will be created")))
            .unwrap_or_else(|| panic!("{address} not planned:\n{}", plan.stdout));
        assert!(line.contains("not this stack's tags"), "{line}");
    }
}

/// Apply refuses each same-named resource without the stack's tags, naming it, records none of
/// them, and changes none of them; a later destroy leaves them too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_named_resources_without_the_stacks_tags_are_never_recorded() {
    let stack = Stack::new();
    let sdk = stack.sdk().await;
    let (theirs_fs, theirs) = same_named_resources_without_tags(&sdk).await;

    let apply = stack.cmd("apply").arg("-auto-approve").run();
    refused(
        &apply,
        &[
            "Error: module.ecs.aws_ecs_cluster.main",
            "Error: module.efs.aws_efs_file_system.main",
            "Error: module.rds.aws_db_subnet_group.main",
            &theirs_fs,
            "prestashop-dev-db-subnet-group",
            "without this stack's tags",
            "hint: it belongs to another project",
        ],
    );
    let state = stack.state();
    let recorded = state["resources"].as_object().unwrap();
    for address in COLLIDING {
        assert!(!recorded.contains_key(address), "{address} was recorded");
    }
    assert!(
        !recorded
            .values()
            .any(|r| r["id"].as_str() == Some(theirs_fs.as_str())),
        "their file system is in the state"
    );
    // Theirs are untouched: still there, still without tags.
    let efs = aws_sdk_efs::Client::new(&sdk);
    let fs = efs
        .describe_file_systems()
        .file_system_id(&theirs_fs)
        .send()
        .await
        .unwrap();
    assert!(
        fs.file_systems()[0].tags().is_empty(),
        "{:?}",
        fs.file_systems()[0].tags()
    );
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let cluster = ecs
        .describe_clusters()
        .clusters("prestashop-dev-cluster")
        .include(aws_sdk_ecs::types::ClusterField::Tags)
        .send()
        .await
        .unwrap();
    assert!(cluster.clusters()[0].tags().is_empty());
    let rds = aws_sdk_rds::Client::new(&sdk);
    let group_arn = rds
        .describe_db_subnet_groups()
        .db_subnet_group_name("prestashop-dev-db-subnet-group")
        .send()
        .await
        .unwrap()
        .db_subnet_groups()[0]
        .db_subnet_group_arn()
        .unwrap()
        .to_owned();
    let tags = rds
        .list_tags_for_resource()
        .resource_name(group_arn)
        .send()
        .await
        .unwrap();
    assert!(tags.tag_list().is_empty(), "{:?}", tags.tag_list());

    // Destroying what was made leaves theirs exactly as it was.
    stack.cmd("destroy").arg("-auto-approve").run().success();
    assert_eq!(account::snapshot(&sdk).await, theirs);
}

/// The state remembers its account, partition and region at the first apply; a run with
/// another region (aws_region) or another account's credentials is refused before any
/// change. `aws_region` wins over AWS_REGION, and destroy takes the region from the state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_is_bound_to_its_account_and_region() {
    let stack = Stack::new();
    let sdk = stack.sdk().await;
    // AWS_REGION says us-west-2; the var file's aws_region (eu-west-3) decides.
    stack
        .cmd("apply")
        .arg("-auto-approve")
        .env("AWS_REGION", "us-west-2")
        .run()
        .success();
    let state = stack.state();
    assert_eq!(
        state["aws"],
        serde_json::json!({ "account_id": "123456789012", "partition": "aws", "region": "eu-west-3" })
    );
    let applied = account::snapshot(&sdk).await;
    assert_eq!(total(&of_env(&applied, "dev")), LISTED_PER_ENVIRONMENT);

    // Nor does a profile's region: the plan reads the same eu-west-3 stack and finds no change.
    let config = stack.dir.path().join("aws-config");
    std::fs::write(&config, "[profile shop]\nregion = ap-south-1\n").unwrap();
    let plan = stack
        .cmd("plan")
        .arg("-detailed-exitcode")
        .env("AWS_CONFIG_FILE", config.to_str().unwrap())
        .env("AWS_PROFILE", "shop")
        .unset("AWS_REGION")
        .run();
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);

    // Another region for the same state: refused, naming both, before any AWS request.
    let proxy = FaultProxy::start(&stack.moto.endpoint, Faults::none());
    let other_region = stack
        .cmd("apply")
        .arg("-auto-approve")
        .var("aws_region", "us-east-1")
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .run();
    refused(
        &other_region,
        &[
            "region eu-west-3",
            "targets us-east-1",
            "aws_region = \"eu-west-3\"",
        ],
    );
    assert_eq!(proxy.stats().requests, 0, "{:?}", proxy.events());

    // Another account's credentials (moto serves account 111111111111 to a role assumed there).
    let sts = aws_sdk_sts::Client::new(&sdk);
    let creds = sts
        .assume_role()
        .role_arn("arn:aws:iam::111111111111:role/other-team")
        .role_session_name("isolation-test")
        .send()
        .await
        .unwrap()
        .credentials()
        .cloned()
        .unwrap();
    for args in [&["plan"][..], &["destroy", "-auto-approve"]] {
        let mut cmd = stack.cmd(args[0]);
        for a in &args[1..] {
            cmd = cmd.arg(*a);
        }
        let run = cmd
            .env("AWS_ACCESS_KEY_ID", creds.access_key_id())
            .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
            .env("AWS_SESSION_TOKEN", creds.session_token())
            .run();
        refused(
            &run,
            &[
                "account 123456789012",
                "account 111111111111",
                "nothing was changed",
            ],
        );
    }
    assert_eq!(
        account::snapshot(&sdk).await,
        applied,
        "a refused run changed the account"
    );

    // Destroy with no variables at all finds the only state and its region, whatever
    // AWS_REGION says.
    let destroy = stack
        .bare(&["destroy", "-auto-approve"])
        .env("AWS_REGION", "ap-southeast-2")
        .run();
    destroy.success();
    destroy.stdout_has(format!(
        "Destroy complete! Resources: {PLANNED_RESOURCES} destroyed."
    ));
    assert_eq!(total(&of_env(&account::snapshot(&sdk).await, "dev")), 0);
}

/// destroy with no state: an error that says where it looked, and no empty state left behind
/// as if a stack had been destroyed.
#[test]
fn destroy_without_a_state_refuses_and_writes_nothing() {
    let stack = Stack::new();
    let run = stack.bare(&["destroy", "-auto-approve"]).run();
    refused(&run, &["no state found in .stackctl", "hint:"]);
    let named = stack.cmd("destroy").arg("-auto-approve").run();
    refused(&named, &["no state at .stackctl/prestashop-dev.json"]);
    assert!(!stack
        .dir
        .path()
        .join(".stackctl/prestashop-dev.json")
        .exists());
}

/// Each first-contact failure of a real account gives one clear line and a hint within
/// seconds: no SDK dump (`Response {`, `SdkBody`, `ErrorMetadata`), no retry storm.
#[test]
fn credential_endpoint_and_permission_failures_each_give_one_line_quickly() {
    let stack = Stack::new();
    let check = |what: &str, run: Run, took: Duration, words: &[&str]| {
        refused(&run, words);
        assert!(run.stderr.contains("\n  hint: "), "{what}: {}", run.stderr);
        for dump in [
            "Response {",
            "SdkBody",
            "ErrorMetadata",
            "DispatchFailure",
            "{ kind",
        ] {
            assert!(
                !run.stderr.contains(dump),
                "{what}: an SDK dump: {}",
                run.stderr
            );
        }
        let error_lines = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("Error:"))
            .count();
        assert_eq!(error_lines, 1, "{what}: {}", run.stderr);
        assert!(took < Duration::from_secs(5), "{what} took {took:?}");
        eprintln!(
            "{what}: {took:?}: {}",
            run.stderr.lines().next().unwrap_or("")
        );
    };
    let timed = |cmd: common::Cmd<'_>| {
        let t = Instant::now();
        let run = cmd.run();
        (run, t.elapsed())
    };

    // No credentials anywhere (environment, profile files; instance metadata is disabled so
    // nothing leaves loopback).
    let (run, took) = timed(
        stack
            .cmd("plan")
            .unset("AWS_ACCESS_KEY_ID")
            .unset("AWS_SECRET_ACCESS_KEY"),
    );
    check(
        "no credentials",
        run,
        took,
        &["Error: no AWS credentials found", "AWS_PROFILE"],
    );

    // Expired credentials: STS answers ExpiredToken.
    let expired = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::rate(1.0)
            .only(Fault::ExpiredToken)
            .for_operations(&["GetCallerIdentity"]),
    );
    let (run, took) = timed(stack.cmd("plan").env("AWS_ENDPOINT_URL", &expired.endpoint));
    check(
        "expired credentials",
        run,
        took,
        &["Error: the AWS credentials have expired", "aws sso login"],
    );

    // An endpoint nothing listens on.
    let (run, took) = timed(
        stack
            .cmd("plan")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
    );
    check(
        "unreachable endpoint",
        run,
        took,
        &[
            "Error: cannot reach AWS at http://127.0.0.1:9",
            "Connection refused",
        ],
    );

    // Access denied on the first real read.
    let denied = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::rate(1.0)
            .only(Fault::AccessDenied)
            .for_operations(&["DescribeSubnets"]),
    );
    let (run, took) = timed(stack.cmd("plan").env("AWS_ENDPOINT_URL", &denied.endpoint));
    check(
        "access denied",
        run,
        took,
        &[
            "Error: reading the default VPC",
            "UnauthorizedOperation",
            "lacks this permission",
        ],
    );
    assert_eq!(denied.stats().refusals, 1, "the denial was retried");
}

/// A state from an earlier stackctl (resources, no recorded location, names without the
/// environment) is planned with a warning that renamed resources will be replaced; its first
/// apply then records where it lives.
#[test]
fn a_state_from_before_environment_names_is_announced() {
    let stack = Stack::applied();
    let mut state = stack.state();
    state.as_object_mut().unwrap().remove("aws");
    std::fs::write(
        stack.state_path(),
        serde_json::to_vec_pretty(&state).unwrap(),
    )
    .unwrap();
    let plan = stack.cmd("plan").run();
    plan.success();
    plan.stdout_has("was written by an earlier stackctl");
    stack.cmd("apply").arg("-auto-approve").run().success();
    assert_eq!(stack.state()["aws"]["account_id"], "123456789012");
    let again = stack.cmd("plan").run();
    assert!(
        !again.stdout.contains("earlier stackctl"),
        "{}",
        again.stdout
    );
}
