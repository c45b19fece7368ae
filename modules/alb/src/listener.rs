//! `aws_lb_listener`: the load balancer's HTTP listener, forwarding everything to the target
//! group.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, Listener, ProtocolEnum};
use aws_sdk_elasticloadbalancingv2::Client;
use serde_json::Value as J;
use stackctl_contract::value::to_i32;
use stackctl_contract::{
    args, aws_error, provider, Absent, Args, Changed, Instance, Kind, ResourceError, TagApi, Tags,
    Values,
};

use crate::{elb_tags, elbv2_kind, read_back, read_tags, ElbTagging, LISTENER_GONE};

args! {
    /// `aws_lb_listener`'s arguments.
    pub struct ListenerArgs {
        [ForceNew] load_balancer_arn: String,
        port: i64,
        /// `HTTP`.
        protocol: String,
        /// `{"type": "forward", "target_group_arn": ...}`; `null` read back from a listener
        /// without actions.
        default_action: J,
        tags: Tags,
    }
}

/// `aws_lb_listener`: the HTTP listener forwarding to the target group, identified by its ARN.
pub struct ListenerKind {
    elb: Client,
}

impl ListenerKind {
    pub fn new(elb: Client) -> Self {
        ListenerKind { elb }
    }

    async fn instance(&self, l: &Listener) -> Result<Option<Instance>, ResourceError> {
        let arn = l.listener_arn().unwrap_or_default();
        let Some(tags) = read_tags(&self.elb, arn, LISTENER_GONE).await? else {
            return Ok(None);
        };
        Ok(Some(to_instance(l, tags)))
    }
}

/// The listener's default action from the `default_action` object.
fn action(default_action: &J) -> Result<Action, ResourceError> {
    let a = default_action.as_object().ok_or_else(|| {
        ResourceError::internal("attribute `default_action` is missing or not an object")
    })?;
    let kind = a.get("type").and_then(J::as_str).unwrap_or("forward");
    Ok(Action::builder()
        .r#type(ActionTypeEnum::from(kind))
        .set_target_group_arn(
            a.get("target_group_arn")
                .and_then(J::as_str)
                .map(str::to_owned),
        )
        .build())
}

pub(crate) fn to_instance(l: &Listener, tags: Tags) -> Instance {
    let arn = l.listener_arn().unwrap_or_default();
    let default_action = l.default_actions().first().map_or(J::Null, |a| {
        let mut obj = serde_json::Map::new();
        obj.insert(
            "type".to_owned(),
            J::from(a.r#type().map_or("", |t| t.as_str())),
        );
        // AWS reports a plain forward both ways; older answers only in the forward config.
        let tg = a.target_group_arn().or_else(|| {
            a.forward_config()
                .and_then(|f| f.target_groups().first())
                .and_then(|t| t.target_group_arn())
        });
        if let Some(tg) = tg {
            obj.insert("target_group_arn".to_owned(), J::from(tg));
        }
        J::Object(obj)
    });
    let mut attrs = ListenerArgs {
        load_balancer_arn: l.load_balancer_arn().unwrap_or_default().to_owned(),
        port: l.port().unwrap_or_default().into(),
        protocol: l.protocol().map_or("", |p| p.as_str()).to_owned(),
        default_action,
        tags,
    }
    .to_values();
    attrs.insert("id".to_owned(), J::from(arn));
    attrs.insert("arn".to_owned(), J::from(arn));
    Instance::new(arn, attrs)
}

#[async_trait]
impl Kind for ListenerKind {
    elbv2_kind!("aws_lb_listener", ListenerArgs);

    fn provider_values(&self, _type_name: &str, attrs: &provider::Object) -> provider::Object {
        crate::provider::listener(attrs)
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        let out = self
            .elb
            .describe_listeners()
            .listener_arns(&prior.id)
            .send()
            .await
            .map_err(|e| aws_error("DescribeListeners", e))
            .absent_if(LISTENER_GONE)?;
        match out.as_ref().and_then(|out| out.listeners().first()) {
            Some(l) => self.instance(l).await,
            None => Ok(None),
        }
    }

    /// A load balancer has at most one listener per port: that one is ours.
    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let d = ListenerArgs::from_values(desired)?;
        let out = self
            .elb
            .describe_listeners()
            .load_balancer_arn(&d.load_balancer_arn)
            .send()
            .await
            .map_err(|e| aws_error("DescribeListeners", e))
            .absent_if(LISTENER_GONE)?;
        let found = out.as_ref().and_then(|out| {
            out.listeners()
                .iter()
                .find(|l| l.port().map(i64::from) == Some(d.port))
        });
        match found {
            Some(l) => self.instance(l).await,
            None => Ok(None),
        }
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = ListenerArgs::from_values(desired)?;
        let out = self
            .elb
            .create_listener()
            .load_balancer_arn(&d.load_balancer_arn)
            .port(to_i32("port", d.port)?)
            .protocol(ProtocolEnum::from(d.protocol.as_str()))
            .default_actions(action(&d.default_action)?)
            .set_tags(elb_tags(&d.tags.0))
            .send()
            .await
            .map_err(|e| aws_error("CreateListener", e))?;
        let arn = out
            .listeners()
            .first()
            .and_then(Listener::listener_arn)
            .ok_or_else(|| ResourceError::new("CreateListener", "AWS returned no listener ARN"))?
            .to_owned();
        read_back(self, &arn).await
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        let d = ListenerArgs::from_values(desired)?;
        let changed = ListenerArgs::<Changed>::from_names(changed);
        // One ModifyListener sets all three.
        if changed.port || changed.protocol || changed.default_action {
            self.elb
                .modify_listener()
                .listener_arn(&prior.id)
                .port(to_i32("port", d.port)?)
                .protocol(ProtocolEnum::from(d.protocol.as_str()))
                .default_actions(action(&d.default_action)?)
                .send()
                .await
                .map_err(|e| aws_error("ModifyListener", e))?;
        }
        if changed.tags {
            ElbTagging(&self.elb)
                .sync_tags(&prior.id, &prior.tags(), &d.tags)
                .await?;
        }
        read_back(self, &prior.id).await
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        self.elb
            .delete_listener()
            .listener_arn(&prior.id)
            .send()
            .await
            .map_err(|e| aws_error("DeleteListener", e))
            .absent_if(LISTENER_GONE)?;
        Ok(())
    }
}
