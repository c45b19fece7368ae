//! The lifecycle layer's timing profile: each real-AWS duration with its source, the time scale
//! that plays them in a test, the images whose deployments fail, and the realistic and instant
//! profiles.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

/// One duration of the profile, in real-AWS seconds.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Figure {
    /// The figure the layer uses.
    pub seconds: f64,
    /// What was observed, low and high.
    #[serde(default)]
    pub range: Option<[f64; 2]>,
    /// Where the figure comes from.
    pub source: String,
}

/// How a deployment of an image fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The image cannot be pulled: each task stops with `CannotPullContainerError`.
    CannotPull,
    /// The tasks start but never pass the load balancer's health check.
    Unhealthy,
}

/// Every figure a profile must have: a typo in the file is an error, not a zero.
pub const FIGURES: [&str; 18] = [
    "rds_create",
    "rds_backing_up",
    "rds_modify",
    "rds_delete",
    "alb_create",
    "efs_create",
    "efs_delete",
    "mount_target_create",
    "mount_target_delete",
    "ecs_service_steady",
    "ecs_task_start",
    "ecs_service_drain",
    "eni_release",
    "ecs_task_failure",
    "ecs_health_failure",
    "ecs_task_run",
    "ec2_consistency",
    "iam_propagation",
];

/// The realistic profile's text (`profiles/realistic.toml`).
pub const REALISTIC: &str = include_str!("../../profiles/realistic.toml");

/// Durations (real-AWS seconds), the time scale that maps them to test time, and the images
/// whose deployments fail.
#[derive(Clone, Debug)]
pub struct Profile {
    pub figures: BTreeMap<String, Figure>,
    /// Test seconds per real-AWS second: 0.01 plays 300 s in 3 s.
    pub scale: f64,
    /// Images (matched as substrings of the task definition's image) that fail to deploy.
    pub failing_images: Vec<(String, Failure)>,
    /// Whether the first CreateCluster of the account fails with "Unable to assume the service
    /// linked role", as on an account that never used ECS.
    pub fresh_account: bool,
    /// Every duration zero, those the target group's settings make (health checks,
    /// deregistration delay) included.
    pub instant: bool,
    /// The status available databases show while AWS works on them by itself, as the test
    /// sets it (shared by every clone of the profile).
    pub db_busy: DbBusy,
}

/// What an available database shows while AWS works on it of its own accord, outside any
/// call: `backing-up` during the nightly backup window, `maintenance` or `upgrading` in the
/// maintenance window. A test sets it and clears it at any time, through the layer's clone.
#[derive(Clone, Debug, Default)]
pub struct DbBusy(Arc<Mutex<Option<&'static str>>>);

impl DbBusy {
    /// From now on, available databases show `status` (`None`: available again).
    pub fn set(&self, status: Option<&'static str>) {
        *self.0.lock().unwrap() = status;
    }

    pub(super) fn get(&self) -> Option<&'static str> {
        *self.0.lock().unwrap()
    }
}

impl Profile {
    /// The realistic profile at a scale of 1 (real time).
    pub fn realistic() -> Profile {
        Profile::parse(REALISTIC).expect("profiles/realistic.toml is valid")
    }

    /// A profile from TOML: one table per figure, each with `seconds`, `range`, `source`.
    pub fn parse(text: &str) -> Result<Profile, String> {
        let figures: BTreeMap<String, Figure> =
            toml::from_str(text).map_err(|e| format!("profile: {e}"))?;
        for key in FIGURES {
            if !figures.contains_key(key) {
                return Err(format!("profile: figure `{key}` is missing"));
            }
        }
        for (key, f) in &figures {
            if !FIGURES.contains(&key.as_str()) {
                return Err(format!("profile: unknown figure `{key}`"));
            }
            if f.seconds < 0.0 || f.source.trim().is_empty() {
                return Err(format!("profile: `{key}` needs seconds >= 0 and a source"));
            }
        }
        Ok(Profile {
            figures,
            scale: 1.0,
            failing_images: Vec::new(),
            fresh_account: true,
            instant: false,
            db_busy: DbBusy::default(),
        })
    }

    /// AWS at once: every duration zero and an account that used ECS before, so the layer
    /// only answers what moto drops (see [`crate::Moto`]).
    pub fn instant() -> Profile {
        let mut p = Profile::realistic().fresh_account(false);
        for f in p.figures.values_mut() {
            f.seconds = 0.0;
        }
        p.instant = true;
        p
    }

    /// Play the durations at this many test seconds per real second.
    pub fn scaled(mut self, scale: f64) -> Profile {
        assert!(scale > 0.0, "the time scale must be positive");
        self.scale = scale;
        self
    }

    /// Override one figure (a test that needs a longer or shorter window).
    pub fn with(mut self, key: &str, seconds: f64) -> Profile {
        let f = self
            .figures
            .get_mut(key)
            .unwrap_or_else(|| panic!("no figure `{key}` in the profile"));
        f.seconds = seconds;
        self
    }

    /// Deployments of an image containing `pattern` fail this way.
    pub fn failing_image(mut self, pattern: &str, failure: Failure) -> Profile {
        self.failing_images.push((pattern.to_owned(), failure));
        self
    }

    /// Whether the first CreateCluster fails once (default: yes).
    pub fn fresh_account(mut self, fresh: bool) -> Profile {
        self.fresh_account = fresh;
        self
    }

    /// A figure in real seconds.
    pub fn seconds(&self, key: &str) -> f64 {
        self.figures
            .get(key)
            .unwrap_or_else(|| panic!("no figure `{key}` in the profile"))
            .seconds
    }

    /// How long AWS takes to replace a service's tasks with those of a new deployment (an
    /// image change, a redeploy, a rollback), given its target group's settings: the new
    /// task starts (`ecs_task_start`), passes `healthy_threshold` health checks `interval`
    /// seconds apart, and the old task is deregistered, which ends after the group's
    /// deregistration delay. A first deployment has nothing to replace: it takes
    /// `ecs_service_steady` (PrestaShop's installer included).
    pub fn replacement_seconds(&self, tg: &TargetTiming) -> f64 {
        if self.instant {
            return 0.0;
        }
        self.seconds("ecs_task_start")
            + (tg.healthy_threshold * tg.interval) as f64
            + tg.deregistration_delay as f64
    }
}

/// The target group settings a rolling deploy's time depends on; AWS's defaults until a call
/// sets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetTiming {
    pub interval: i64,
    pub healthy_threshold: i64,
    pub deregistration_delay: i64,
}

impl Default for TargetTiming {
    /// ELBv2's defaults for an `ip` target group: checks every 30 s, healthy after 5 passes,
    /// 300 s deregistration delay (ELBv2 API reference, CreateTargetGroup and target group
    /// attributes).
    fn default() -> Self {
        TargetTiming {
            interval: 30,
            healthy_threshold: 5,
            deregistration_delay: 300,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_realistic_profile_has_every_figure_with_a_source() {
        let p = Profile::realistic();
        for key in FIGURES {
            let f = &p.figures[key];
            assert!(!f.source.is_empty(), "{key}");
            if let Some([lo, hi]) = f.range {
                assert!(
                    lo <= f.seconds && f.seconds <= hi,
                    "{key}: {} not in [{lo}, {hi}]",
                    f.seconds
                );
            }
        }
        assert_eq!(p.seconds("rds_create"), 300.0);
        assert!(Profile::parse("[rds_create]\nseconds = 1\nsource = \"x\"").is_err());
    }

    #[test]
    fn a_rolling_deploy_takes_what_the_target_group_settings_make_it_take() {
        let p = Profile::realistic();
        // AWS's defaults: 60 s to start, 5 checks 30 s apart, 300 s to deregister.
        assert_eq!(p.replacement_seconds(&TargetTiming::default()), 510.0);
        // stackctl's: 2 checks 10 s apart, 30 s to deregister.
        let fast = TargetTiming {
            interval: 10,
            healthy_threshold: 2,
            deregistration_delay: 30,
        };
        assert_eq!(p.replacement_seconds(&fast), 110.0);
    }
}
