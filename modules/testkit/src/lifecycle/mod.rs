//! An AWS with time, in front of moto: what real AWS does during the minutes a resource takes.
//!
//! Moto makes every resource ready at once, never answers a stale read and never fails a
//! deployment. This layer of the [proxy](crate::proxy) replays real AWS's timeline over moto:
//! moto stays the source of truth for what exists, the layer only **rewrites** answers (a load
//! balancer `provisioning`, a database `creating` without an endpoint, a service's deployment
//! `IN_PROGRESS` with its running count rising), **refuses** calls AWS refuses meanwhile (a mount
//! target on a file system still creating, a security group still held by the network
//! interfaces of a deleted service's tasks) and **answers for moto** where it drops a field (the
//! service's health-check grace period) or forgets a resource AWS still shows (a database
//! `deleting`). A one-off task (RunTask) runs and stops as on Fargate, with an exit code.
//!
//! The durations come from a [`Profile`] (`profiles/realistic.toml`: each figure with its
//! source), in real-AWS seconds, and a time scale: at 0.01 a 300 s database create takes 3 s.
//! The layer keeps its own clock from the proxy's start; a resource's window starts when moto
//! answers the call that created (or changed, or deleted) it.
//!
//! It is test tooling: the product never knows it is there.
//!
//! Here: the layer itself ([`Lifecycle`]: its clock, its counts, and the dispatch of each
//! call to the rules of its AWS service); `profile` (the durations) and `critical` (the
//! critical path they make through a stack); `call` (a call as the layer reads it), `world`
//! (what it saw happen) and `xml`; then one file per AWS service: `ec2`, `iam`, `elbv2`,
//! `rds`, `efs`, `s3` and `ecs` (with `ecs_deployment`, a service's deployments over time, and
//! `ecs_task`, one-off tasks).

mod call;
mod critical;
mod ec2;
mod ecs;
mod ecs_deployment;
mod ecs_task;
mod efs;
mod elbv2;
mod iam;
mod profile;
mod rds;
mod s3;
mod world;
mod xml;

pub(crate) use call::Call;
pub use critical::{CriticalPath, Graph};
pub use profile::{DbBusy, Failure, Figure, Profile, TargetTiming, FIGURES, REALISTIC};

use std::sync::Mutex;
use std::time::Instant;

use call::Refusal;
use world::World;

/// Counts of what the layer did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LayerStats {
    /// Calls refused as AWS refuses them during a window.
    pub refused: u64,
    /// Answers rewritten (a state, a count, a dropped field) or answered for moto.
    pub rewritten: u64,
}

/// The layer's state: the profile, its clock and what it saw created.
pub(crate) struct Lifecycle {
    profile: Profile,
    start: Instant,
    world: Mutex<World>,
    stats: Mutex<LayerStats>,
}

impl Lifecycle {
    pub fn new(profile: Profile) -> Lifecycle {
        Lifecycle {
            profile,
            start: Instant::now(),
            world: Mutex::new(World::default()),
            stats: Mutex::new(LayerStats::default()),
        }
    }

    pub fn stats(&self) -> LayerStats {
        *self.stats.lock().unwrap()
    }

    /// Real-AWS seconds since the proxy started.
    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64() / self.profile.scale
    }

    /// Before forwarding: the request's body as moto must get it, when it differs (see
    /// `ecs::request`).
    pub fn request(&self, call: &Call) -> Option<Vec<u8>> {
        ecs::request(call)
    }

    /// Before forwarding: a refusal, or `None` to forward.
    pub fn before(&self, call: &Call) -> Option<Refusal> {
        let refusal = self.decide(call);
        match &refusal {
            Some(r) if r.body.is_some() => self.stats.lock().unwrap().rewritten += 1,
            Some(_) => self.stats.lock().unwrap().refused += 1,
            None => {}
        }
        refusal
    }

    /// What AWS would answer instead of forwarding the call: asked of the rules of its service.
    fn decide(&self, call: &Call) -> Option<Refusal> {
        let now = self.now();
        let mut w = self.world.lock().unwrap();
        let w = &mut *w;
        let p = &self.profile;
        match call.service.as_str() {
            "ec2" => ec2::decide(p, w, call, now),
            "elasticloadbalancing" => elbv2::decide(p, w, call, now),
            "rds" => rds::decide(p, w, call, now),
            "elasticfilesystem" => efs::decide(p, w, call, now),
            "ecs" => ecs::decide(p, w, call, now),
            _ => None,
        }
    }

    /// After moto answered: record what was created, rewrite the answer as AWS would give it.
    /// Returns the status to send (an answer for moto turns a 404 into a 200).
    pub fn after(&self, call: &Call, status: u16, body: &mut Vec<u8>) -> u16 {
        let Ok(text) = std::str::from_utf8(body) else {
            return status;
        };
        let out = self.rewrite(call, status, text);
        match out {
            Some((s, new)) => {
                if new != text || s != status {
                    self.stats.lock().unwrap().rewritten += 1;
                }
                *body = new.into_bytes();
                s
            }
            None => status,
        }
    }

    /// Moto's answer as AWS would give it: asked of the rules of the call's service.
    fn rewrite(&self, call: &Call, status: u16, text: &str) -> Option<(u16, String)> {
        let now = self.now();
        let mut w = self.world.lock().unwrap();
        let w = &mut *w;
        let p = &self.profile;
        match call.service.as_str() {
            "ec2" => ec2::rewrite(p, w, call, status, text, now),
            "iam" => iam::rewrite(w, call, status, text, now),
            "elasticloadbalancing" => elbv2::rewrite(p, w, call, status, text, now),
            "rds" => rds::rewrite(p, w, call, status, text, now),
            "elasticfilesystem" => efs::rewrite(p, w, call, status, text, now),
            "ecs" => ecs::rewrite(p, w, call, status, text, now),
            "s3" => s3::rewrite(call, status, text),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    /// A RunTask'd task through the layer: RunTask's answer, then DescribeTasks' at `scale`.
    fn one_off(profile: Profile, command: &[&str], image: &str) -> (Value, Value) {
        let layer = Lifecycle::new(profile);
        let td = "arn:aws:ecs:eu-west-3:1:task-definition/shop:1";
        let mut body = json!({"taskDefinition": {"taskDefinitionArn": td,
            "containerDefinitions": [{"name": "shop", "image": image, "memoryReservation": 0}]}})
        .to_string()
        .into_bytes();
        let register = Call::new(
            "ecs".into(),
            "RegisterTaskDefinition".into(),
            "/",
            br#"{"containerDefinitions":[{"name":"shop"}]}"#,
            false,
        );
        assert!(
            layer.request(&register).is_some(),
            "no memory: one is added for moto"
        );
        layer.after(&register, 200, &mut body);
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert!(answer
            .pointer("/taskDefinition/containerDefinitions/0/memoryReservation")
            .is_none());
        // Moto's task: RUNNING at once, exit code 0.
        let task = json!({"taskArn": "arn:aws:ecs:eu-west-3:1:task/c/abc", "taskDefinitionArn": td,
            "lastStatus": "RUNNING", "desiredStatus": "RUNNING", "stoppedReason": "",
            "containers": [{"name": "shop", "lastStatus": "PENDING", "exitCode": 0}]});
        let run = Call::new(
            "ecs".into(),
            "RunTask".into(),
            "/",
            json!({"overrides": {"containerOverrides": [{"name": "shop", "command": command}]}})
                .to_string()
                .as_bytes(),
            false,
        );
        let mut body = json!({"tasks": [task.clone()], "failures": []})
            .to_string()
            .into_bytes();
        layer.after(&run, 200, &mut body);
        let started: Value = serde_json::from_slice(&body).unwrap();
        let describe = Call::new("ecs".into(), "DescribeTasks".into(), "/", b"{}", false);
        let mut body = json!({"tasks": [task], "failures": []})
            .to_string()
            .into_bytes();
        layer.after(&describe, 200, &mut body);
        let described: Value = serde_json::from_slice(&body).unwrap();
        (started["tasks"][0].clone(), described["tasks"][0].clone())
    }

    #[test]
    fn one_off_tasks_run_then_stop_with_the_exit_code_the_command_names() {
        let (started, stopped) =
            one_off(Profile::instant(), &["sh", "-c", "exit 3", "exit:3"], "php");
        assert_eq!(started["lastStatus"], "PROVISIONING");
        assert!(started["containers"][0].get("exitCode").is_none());
        assert_eq!(stopped["lastStatus"], "STOPPED");
        assert_eq!(stopped["stopCode"], "EssentialContainerExited");
        assert_eq!(
            stopped["stoppedReason"],
            "Essential container in task exited"
        );
        assert_eq!(stopped["containers"][0]["exitCode"], 3);
        let (_, ok) = one_off(Profile::instant(), &["php", "-v"], "php");
        assert_eq!(ok["containers"][0]["exitCode"], 0);

        // A minute of AWS is a minute here: still starting, no exit code yet.
        let (_, starting) = one_off(Profile::realistic(), &["php", "-v"], "php");
        assert_eq!(starting["lastStatus"], "PROVISIONING");
        assert_eq!(starting["desiredStatus"], "RUNNING");
        assert!(starting["containers"][0].get("exitCode").is_none());

        let failing = Profile::instant().failing_image("nope", Failure::CannotPull);
        let (_, failed) = one_off(failing, &["php", "-v", "exit:0"], "shop:nope");
        assert_eq!(failed["lastStatus"], "STOPPED");
        assert_eq!(failed["stopCode"], "TaskFailedToStart");
        assert!(failed["containers"][0].get("exitCode").is_none());
        assert!(failed["containers"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("CannotPullContainerError"));
    }
}
