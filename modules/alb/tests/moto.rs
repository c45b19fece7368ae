//! The alb kinds against moto: create all three from the module's specs, read back, adopt,
//! update in place, delete in reverse order.

use std::sync::Arc;

use serde_json::json;
use stackctl_alb::{Inputs, LB, LISTENER, TARGET_GROUP};
use stackctl_contract::{Instance, Kind, Prior, Ref, Tags, Val, Values};
use stackctl_testkit::{assert_converged, desired, security_group, spec, Known, Moto};

const SG: &str = "module.security.aws_security_group.alb";

#[tokio::test]
async fn alb_lifecycle_against_moto() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let net = stackctl_networking::lookup(&sdk).await.unwrap();

    let sg_id = security_group(&sdk, &net.vpc_id, "t-alb-sg").await;

    let inputs = Inputs {
        name_prefix: "t-dev".into(),
        vpc_id: net.vpc_id.clone(),
        subnet_ids: net.subnet_ids(),
        security_group: Ref::new(SG, "id"),
        tags: Tags::stack("t", "test"),
    };
    let specs = stackctl_alb::specs(&sdk, &inputs);
    let kinds = stackctl_alb::kinds(&sdk);
    let kind = |name: &str| -> Arc<dyn Kind> {
        kinds
            .iter()
            .find(|k| k.type_name() == name)
            .unwrap()
            .clone()
    };
    let (lb_kind, tg_kind, listener_kind) = (
        kind("aws_lb"),
        kind("aws_lb_target_group"),
        kind("aws_lb_listener"),
    );

    let mut known = Known::default();
    // Until the group exists the load balancer's security groups are unknown.
    assert_eq!(
        spec(&specs, LB).desired(&known)["security_groups"],
        Val::Unknown
    );
    known.set(SG, "id", json!(sg_id.clone()));

    // Load balancer.
    let lb_desired = desired(spec(&specs, LB), &known);
    assert_eq!(lb_desired["name"], json!("t-dev-alb"));
    assert_eq!(lb_desired["security_groups"], json!([sg_id]));
    let lb = lb_kind.create(&lb_desired).await.unwrap();
    assert_converged(LB, &lb_desired, &lb);
    assert_eq!(lb.attrs["id"], json!(lb.id));
    assert_eq!(lb.attrs["arn"], json!(lb.id));
    assert!(!lb.attrs["dns_name"].as_str().unwrap().is_empty());
    assert!(!lb.attrs["zone_id"].as_str().unwrap().is_empty());
    let adopted = lb_kind.adopt(&lb_desired).await.unwrap().unwrap();
    assert_eq!(adopted.id, lb.id);
    known.record(LB, &lb);

    // Target group.
    let tg_desired = desired(spec(&specs, TARGET_GROUP), &known);
    let tg = tg_kind.create(&tg_desired).await.unwrap();
    assert_converged(TARGET_GROUP, &tg_desired, &tg);
    assert_eq!(tg.attrs["arn"], json!(tg.id));
    assert!(tg.attrs["arn_suffix"]
        .as_str()
        .unwrap()
        .starts_with("targetgroup/t-dev-tg/"));
    let adopted = tg_kind.adopt(&tg_desired).await.unwrap().unwrap();
    assert_eq!(adopted.id, tg.id);
    known.record(TARGET_GROUP, &tg);

    // Listener.
    let listener_desired = desired(spec(&specs, LISTENER), &known);
    assert_eq!(
        listener_desired["default_action"],
        json!({ "type": "forward", "target_group_arn": tg.id })
    );
    let listener = listener_kind.create(&listener_desired).await.unwrap();
    assert_converged(LISTENER, &listener_desired, &listener);
    assert_eq!(listener.attrs["arn"], json!(listener.id));
    let adopted = listener_kind
        .adopt(&listener_desired)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(adopted.id, listener.id);

    // A fresh read of each converges too (what the next plan sees).
    for (address, k, d, inst) in [
        (LB, &lb_kind, &lb_desired, &lb),
        (TARGET_GROUP, &tg_kind, &tg_desired, &tg),
        (LISTENER, &listener_kind, &listener_desired, &listener),
    ] {
        let live = k.read(inst).await.unwrap().unwrap();
        assert_converged(address, d, &live);
    }

    // A refresh reads the three together, with one DescribeTags: the same as reading each.
    // A target group that no longer exists makes AWS fail the whole DescribeTargetGroups;
    // it reads as gone and the others are still read.
    let gone_tg = Instance::new(tg.id.replace("/t-dev-tg/", "/t-gone/"), Values::new());
    let priors = [
        Prior {
            type_name: "aws_lb",
            instance: &lb,
        },
        Prior {
            type_name: "aws_lb_target_group",
            instance: &tg,
        },
        Prior {
            type_name: "aws_lb_listener",
            instance: &listener,
        },
        Prior {
            type_name: "aws_lb_target_group",
            instance: &gone_tg,
        },
    ];
    assert_eq!(lb_kind.batch_group(), tg_kind.batch_group());
    assert_eq!(lb_kind.batch_group(), listener_kind.batch_group());
    let together = listener_kind.read_many(&priors).await.unwrap();
    assert_eq!(together.len(), 4);
    for (i, (k, inst)) in [
        (&lb_kind, &lb),
        (&tg_kind, &tg),
        (&listener_kind, &listener),
    ]
    .into_iter()
    .enumerate()
    {
        let alone = k.read(inst).await.unwrap();
        assert!(alone.is_some(), "{}", k.type_name());
        assert_eq!(together[i], alone, "{}", k.type_name());
    }
    assert!(together[3].is_none(), "{:?}", together[3]);

    // Update the target group's health check and tags in place.
    let mut tg_desired2 = tg_desired.clone();
    tg_desired2
        .get_mut("health_check")
        .unwrap()
        .as_object_mut()
        .unwrap()
        .insert("interval".into(), json!(60));
    let mut tags = tg_desired["tags"].clone();
    tags.as_object_mut()
        .unwrap()
        .insert("team".into(), json!("shop"));
    tg_desired2.insert("tags".into(), tags.clone());
    let tg2 = tg_kind
        .update(&tg, &tg_desired2, &["health_check".into(), "tags".into()])
        .await
        .unwrap();
    assert_eq!(tg2.id, tg.id);
    assert_converged(TARGET_GROUP, &tg_desired2, &tg2);
    assert_eq!(tg2.attrs["health_check"]["interval"], json!(60));

    // And the load balancer's tags: one added, then removed again.
    let mut lb_desired2 = lb_desired.clone();
    lb_desired2.insert("tags".into(), tags);
    let lb2 = lb_kind
        .update(&lb, &lb_desired2, &["tags".into()])
        .await
        .unwrap();
    assert_converged(LB, &lb_desired2, &lb2);
    let lb3 = lb_kind
        .update(&lb2, &lb_desired, &["tags".into()])
        .await
        .unwrap();
    assert_converged(LB, &lb_desired, &lb3);

    // Delete in reverse order; each is gone after, and deleting again is fine.
    listener_kind.delete(&listener).await.unwrap();
    assert!(listener_kind.read(&listener).await.unwrap().is_none());
    listener_kind.delete(&listener).await.unwrap();

    tg_kind.delete(&tg2).await.unwrap();
    assert!(tg_kind.read(&tg2).await.unwrap().is_none());
    assert!(tg_kind.adopt(&tg_desired).await.unwrap().is_none());
    tg_kind.delete(&tg2).await.unwrap();

    lb_kind.delete(&lb3).await.unwrap();
    assert!(lb_kind.read(&lb3).await.unwrap().is_none());
    assert!(lb_kind.adopt(&lb_desired).await.unwrap().is_none());
    lb_kind.delete(&lb3).await.unwrap();
}
