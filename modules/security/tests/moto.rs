//! The security group kind against moto: create, read back, change rules in place, delete.

use serde_json::json;
use stackctl_contract::{Instance, Prior, Values};
use stackctl_testkit::Moto;

#[tokio::test]
async fn group_lifecycle_against_moto() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let net = stackctl_networking::lookup(&sdk).await.unwrap();
    let kind = stackctl_security::kinds(&sdk).remove(0);

    let mut desired = Values::from([
        ("name".to_owned(), json!("t-rds-sg")),
        ("description".to_owned(), json!("test")),
        ("vpc_id".to_owned(), json!(net.vpc_id)),
        (
            "ingress".to_owned(),
            json!([{ "protocol": "tcp", "from_port": 3306, "to_port": 3306, "cidr": "10.0.0.0/8" }]),
        ),
        ("egress".to_owned(), json!([])),
        ("tags".to_owned(), json!({ "ManagedBy": "stackctl" })),
    ]);
    let created = kind.create(&desired).await.unwrap();
    // The default allow-all egress AWS adds must be gone, and the ingress rule there.
    assert_eq!(created.attrs["egress"], json!([]));
    assert_eq!(created.attrs["ingress"], desired["ingress"]);
    assert_eq!(created.attrs["tags"], json!({ "ManagedBy": "stackctl" }));

    // Adopting by name finds the same group.
    let adopted = kind.adopt(&desired).await.unwrap().unwrap();
    assert_eq!(adopted.id, created.id);

    desired.insert(
        "ingress".into(),
        json!([{ "protocol": "tcp", "from_port": 3306, "to_port": 3306, "cidr": "10.1.0.0/16" }]),
    );
    desired.insert("tags".into(), json!({ "ManagedBy": "stackctl", "x": "y" }));
    let updated = kind
        .update(&created, &desired, &["ingress".into(), "tags".into()])
        .await
        .unwrap();
    assert_eq!(updated.attrs["ingress"], desired["ingress"]);
    assert_eq!(updated.attrs["tags"], desired["tags"]);

    // A refresh reads all groups in one request; one that is gone reads as gone without
    // failing the others (a `GroupIds` list would fail the whole request).
    let mut other_desired = desired.clone();
    other_desired.insert("name".into(), json!("t-other-sg"));
    let other = kind.create(&other_desired).await.unwrap();
    let gone = Instance::new("sg-0123456789abcdef0", Values::new());
    let priors = [&updated, &gone, &other].map(|instance| Prior {
        type_name: "aws_security_group",
        instance,
    });
    let together = kind.read_many(&priors).await.unwrap();
    assert_eq!(together[0], kind.read(&updated).await.unwrap());
    assert!(together[0].is_some());
    assert!(together[1].is_none());
    assert_eq!(together[2].as_ref().map(|i| &i.id), Some(&other.id));

    kind.delete(&updated).await.unwrap();
    assert!(kind.read(&updated).await.unwrap().is_none());
    // Deleting what is already gone is not an error (an interrupted destroy re-run).
    kind.delete(&updated).await.unwrap();
}
