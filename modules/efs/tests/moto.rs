//! The EFS file system and mount target kinds against moto: create, read back, adopt, update,
//! delete.

use serde_json::json;
use stackctl_contract::{Kind, Prior, Values};
use stackctl_testkit::{assert_converged, security_group, Moto};

#[tokio::test]
async fn file_system_and_mount_targets_against_moto() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let net = stackctl_networking::lookup(&sdk).await.unwrap();
    let sg1 = security_group(&sdk, &net.vpc_id, "t-efs-sg").await;
    let sg2 = security_group(&sdk, &net.vpc_id, "t-efs-sg-2").await;

    let kinds = stackctl_efs::kinds(&sdk);
    let (fs_kind, mt_kind): (&dyn Kind, &dyn Kind) = (kinds[0].as_ref(), kinds[1].as_ref());
    assert_eq!(fs_kind.type_name(), "aws_efs_file_system");
    assert_eq!(mt_kind.type_name(), "aws_efs_mount_target");

    // The spec's desired attributes, resolved the way the engine would.
    let mut fs_desired = Values::from([
        ("creation_token".to_owned(), json!("t-efs")),
        ("encrypted".to_owned(), json!(true)),
        ("performance_mode".to_owned(), json!("generalPurpose")),
        ("throughput_mode".to_owned(), json!("bursting")),
        (
            "tags".to_owned(),
            json!({ "ManagedBy": "stackctl", "Name": "t-efs" }),
        ),
    ]);
    let fs = fs_kind.create(&fs_desired).await.unwrap();
    assert!(fs.id.starts_with("fs-"), "{}", fs.id);
    assert_converged("file system", &fs_desired, &fs);
    assert_eq!(fs.attrs["id"], json!(fs.id));
    assert!(fs.attrs["arn"].as_str().unwrap().contains(&fs.id));
    assert_eq!(
        fs.attrs["dns_name"],
        json!(format!("{}.efs.eu-west-3.amazonaws.com", fs.id))
    );
    assert_converged(
        "file system",
        &fs_desired,
        &fs_kind.read(&fs).await.unwrap().unwrap(),
    );
    assert_eq!(fs_kind.adopt(&fs_desired).await.unwrap().unwrap().id, fs.id);

    let mut mts = Vec::new();
    for subnet in &net.subnets {
        let desired = Values::from([
            ("file_system_id".to_owned(), json!(fs.id)),
            ("subnet_id".to_owned(), json!(subnet.id)),
            ("security_groups".to_owned(), json!([sg1])),
        ]);
        let mt = mt_kind.create(&desired).await.unwrap();
        assert!(mt.id.starts_with("fsmt-"), "{}", mt.id);
        assert_converged("mount target", &desired, &mt);
        assert_eq!(
            mt.attrs["availability_zone_name"],
            json!(subnet.availability_zone)
        );
        assert!(mt.attrs["ip_address"].is_string());
        assert_converged(
            "mount target",
            &desired,
            &mt_kind.read(&mt).await.unwrap().unwrap(),
        );
        assert_eq!(mt_kind.adopt(&desired).await.unwrap().unwrap().id, mt.id);
        mts.push((desired, mt));
    }
    assert!(!mts.is_empty());

    // Update: a tag on the file system, a second security group set on one mount target.
    fs_desired.insert(
        "tags".into(),
        json!({ "ManagedBy": "stackctl", "Name": "t-efs", "x": "y" }),
    );
    let fs = fs_kind
        .update(&fs, &fs_desired, &["tags".into()])
        .await
        .unwrap();
    assert_converged("file system", &fs_desired, &fs);
    fs_desired.insert("tags".into(), json!({ "Name": "t-efs", "x": "y" }));
    let fs = fs_kind
        .update(&fs, &fs_desired, &["tags".into()])
        .await
        .unwrap();
    assert_converged("file system", &fs_desired, &fs);

    let (desired, mt) = &mut mts[0];
    let mut both = vec![sg1.clone(), sg2.clone()];
    both.sort();
    desired.insert("security_groups".into(), json!(both));
    let updated = mt_kind
        .update(mt, desired, &["security_groups".into()])
        .await
        .unwrap();
    assert_converged("mount target", desired, &updated);
    assert_converged(
        "mount target",
        desired,
        &mt_kind.read(&updated).await.unwrap().unwrap(),
    );

    // A refresh reads the mount targets together (one DescribeMountTargets by file system,
    // one DescribeNetworkInterfaces for the groups): the same as reading each one.
    let priors: Vec<Prior<'_>> = mts
        .iter()
        .map(|(_, mt)| Prior {
            type_name: "aws_efs_mount_target",
            instance: mt,
        })
        .collect();
    let together = mt_kind.read_many(&priors).await.unwrap();
    assert_eq!(together.len(), mts.len());
    for ((desired, mt), live) in mts.iter().zip(&together) {
        let live = live.as_ref().expect("read together");
        assert_converged("mount target", desired, live);
        assert_eq!(Some(live), mt_kind.read(mt).await.unwrap().as_ref());
    }

    // One gone: only that one reads as gone.
    mt_kind.delete(&mts[0].1).await.unwrap();
    let together = mt_kind.read_many(&priors).await.unwrap();
    assert!(together[0].is_none());
    assert!(together[1..].iter().all(Option::is_some), "{together:?}");

    // Delete: the mount targets first (the file system refuses while they exist), then it.
    for (_, mt) in &mts {
        mt_kind.delete(mt).await.unwrap();
        assert!(mt_kind.read(mt).await.unwrap().is_none());
        mt_kind.delete(mt).await.unwrap();
    }
    fs_kind.delete(&fs).await.unwrap();
    assert!(fs_kind.read(&fs).await.unwrap().is_none());
    assert!(fs_kind.adopt(&fs_desired).await.unwrap().is_none());
    // Deleting what is already gone is not an error (an interrupted destroy re-run).
    fs_kind.delete(&fs).await.unwrap();
}

#[tokio::test]
async fn file_system_delete_waits_for_mount_targets() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let net = stackctl_networking::lookup(&sdk).await.unwrap();
    let sg = security_group(&sdk, &net.vpc_id, "t-efs-wait-sg").await;
    let kinds = stackctl_efs::kinds(&sdk);
    let fs = kinds[0]
        .create(&Values::from([
            ("creation_token".to_owned(), json!("t-efs-wait")),
            ("encrypted".to_owned(), json!(true)),
            ("performance_mode".to_owned(), json!("generalPurpose")),
            ("throughput_mode".to_owned(), json!("bursting")),
            ("tags".to_owned(), json!({})),
        ]))
        .await
        .unwrap();
    let mt = kinds[1]
        .create(&Values::from([
            ("file_system_id".to_owned(), json!(fs.id)),
            ("subnet_id".to_owned(), json!(net.subnets[0].id)),
            ("security_groups".to_owned(), json!([sg])),
        ]))
        .await
        .unwrap();
    // Destroy deletes both concurrently in the worst case: the file system waits its turn.
    let mt_kind = kinds[1].clone();
    let mt2 = mt.clone();
    let mt_delete = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        mt_kind.delete(&mt2).await
    });
    kinds[0].delete(&fs).await.unwrap();
    mt_delete.await.unwrap().unwrap();
    assert!(kinds[0].read(&fs).await.unwrap().is_none());
    assert!(kinds[1].read(&mt).await.unwrap().is_none());
}

/// The backup policy through the lifecycle layer (moto sets one only at creation): enabled,
/// read back, adopted, turned off by hand and set back, deleted (disabled), and refused on a
/// file system without the stack's tags.
#[tokio::test]
async fn backup_policy_against_moto() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let kinds = stackctl_efs::kinds(&sdk);
    let policy_kind = kinds[2].as_ref();
    assert_eq!(policy_kind.type_name(), "aws_efs_backup_policy");
    let stack = json!({
        "ManagedBy": "stackctl",
        "stackctl:project": "t",
        "stackctl:environment": "prod",
    });
    let mut fs_tags = stack.clone();
    fs_tags["Name"] = json!("t-prod-efs");
    let fs = kinds[0]
        .create(&Values::from([
            ("creation_token".to_owned(), json!("t-prod-efs")),
            ("encrypted".to_owned(), json!(true)),
            ("performance_mode".to_owned(), json!("generalPurpose")),
            ("throughput_mode".to_owned(), json!("bursting")),
            ("tags".to_owned(), fs_tags),
        ]))
        .await
        .unwrap();
    let efs = aws_sdk_efs::Client::new(&sdk);
    let live = |id: String| {
        let efs = efs.clone();
        async move {
            efs.describe_backup_policy()
                .file_system_id(id)
                .send()
                .await
                .ok()
                .and_then(|o| o.backup_policy().map(|p| p.status().as_str().to_owned()))
        }
    };
    let mut desired = Values::from([
        ("file_system_id".to_owned(), json!(fs.id)),
        ("status".to_owned(), json!("ENABLED")),
        ("stack_tags".to_owned(), stack.clone()),
    ]);
    // A new file system has no policy: nothing to adopt, nothing to read.
    assert!(policy_kind.adopt(&desired).await.unwrap().is_none());

    let policy = policy_kind.create(&desired).await.unwrap();
    assert_eq!(policy.id, fs.id);
    assert_converged("backup policy", &desired, &policy);
    assert_eq!(live(fs.id.clone()).await.as_deref(), Some("ENABLED"));
    assert_converged(
        "backup policy",
        &desired,
        &policy_kind.read(&policy).await.unwrap().unwrap(),
    );
    assert_eq!(
        policy_kind.adopt(&desired).await.unwrap().unwrap().id,
        fs.id
    );

    // Turned off by hand: read shows it, as drift, and update sets it back.
    efs.put_backup_policy()
        .file_system_id(&fs.id)
        .backup_policy(
            aws_sdk_efs::types::BackupPolicy::builder()
                .status(aws_sdk_efs::types::Status::Disabled)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut drifted = policy_kind.read(&policy).await.unwrap().unwrap();
    for _ in 0..5 {
        if drifted.attrs["status"] != json!("DISABLING") {
            break;
        }
        drifted = policy_kind.read(&policy).await.unwrap().unwrap();
    }
    assert_eq!(drifted.attrs["status"], json!("DISABLED"));
    assert!(policy_kind.adopt(&desired).await.unwrap().is_none());
    let policy = policy_kind
        .update(&drifted, &desired, &["status".into()])
        .await
        .unwrap();
    assert_converged("backup policy", &desired, &policy);
    assert_eq!(live(fs.id.clone()).await.as_deref(), Some("ENABLED"));

    // Another stack's tags: stackctl refuses to touch the policy, naming the file system.
    desired.insert(
        "stack_tags".into(),
        json!({ "ManagedBy": "stackctl", "stackctl:project": "other", "stackctl:environment": "prod" }),
    );
    let err = policy_kind.create(&desired).await.unwrap_err().to_string();
    assert!(
        err.contains(&fs.id) && err.contains("stack's tags"),
        "{err}"
    );
    assert_eq!(live(fs.id.clone()).await.as_deref(), Some("ENABLED"));

    // Delete disables it: AWS keeps a DISABLED policy, which is gone for stackctl's adopt.
    policy_kind.delete(&policy).await.unwrap();
    assert_eq!(live(fs.id.clone()).await.as_deref(), Some("DISABLED"));
    desired.insert("stack_tags".into(), stack.clone());
    assert!(policy_kind.adopt(&desired).await.unwrap().is_none());
    // Deleting again, and once the file system is gone, is not an error (a re-run destroy).
    policy_kind.delete(&policy).await.unwrap();
    kinds[0].delete(&fs).await.unwrap();
    policy_kind.delete(&policy).await.unwrap();
    assert!(policy_kind.read(&policy).await.unwrap().is_none());
}
