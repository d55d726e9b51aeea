//! `status`: one screen of how an environment runs now, and whether that is healthy. It reads
//! only (no lock).

use anyhow::{Result, bail};
use serde::Serialize;

use super::Session;
use crate::aws::{AlarmStatus, ComputeStatus, DatabaseStatus, Health, TargetsStatus};

#[derive(Debug, Serialize)]
pub struct EnvironmentStatus {
    pub environment: String,
    pub compute: Option<ComputeStatus>,
    pub targets: Option<TargetsStatus>,
    pub database: Option<DatabaseStatus>,
    /// The environment's CloudWatch alarms and their states.
    pub alarms: Vec<AlarmStatus>,
    /// What is not healthy, in words; empty when all is.
    pub problems: Vec<String>,
}

impl EnvironmentStatus {
    pub fn healthy(&self) -> bool {
        self.problems.is_empty()
    }
}

pub async fn status(session: &Session) -> Result<EnvironmentStatus> {
    let name = session.file()?.config.name.clone();
    let aws = &session.aws;
    let observed = aws.discover(&name).await?;
    if observed.is_empty() {
        bail!(
            "environment {name} is not deployed: nothing is tagged deployer:environment={name} in {}\n  help: run `deployer apply {name}`",
            aws.region
        );
    }
    // Every kind that can tell how it runs, asked at once through the registry: the first
    // compute, targets and database found (by logical id), and every alarm.
    let (mut compute, mut targets, mut database, mut alarms) = (None, None, None, Vec::new());
    for health in aws.health(&observed).await? {
        match health {
            Health::Compute(status) => {
                compute.get_or_insert(status);
            }
            Health::Targets(status) => {
                targets.get_or_insert(status);
            }
            Health::Database(status) => {
                database.get_or_insert(status);
            }
            Health::Alarm(status) => alarms.push(status),
        }
    }
    alarms.sort_by(|a: &AlarmStatus, b| a.name.cmp(&b.name));
    let mut problems = problems(compute.as_ref(), targets.as_ref(), database.as_ref());
    problems.extend(
        alarms
            .iter()
            .filter(|a| a.state == "ALARM")
            .map(|a| format!("alarm {} is firing", a.name)),
    );
    Ok(EnvironmentStatus {
        environment: name,
        compute,
        targets,
        database,
        alarms,
        problems,
    })
}

/// What is not healthy: fewer running than desired, a failed deployment, unhealthy or no
/// targets, a database or writer not available.
fn problems(
    compute: Option<&ComputeStatus>,
    targets: Option<&TargetsStatus>,
    database: Option<&DatabaseStatus>,
) -> Vec<String> {
    let mut problems = Vec::new();
    match compute {
        None => problems.push("no service or Auto Scaling group found".to_owned()),
        Some(compute) => {
            if compute.running < compute.desired {
                problems.push(format!(
                    "{}: {} of {} running",
                    compute.name, compute.running, compute.desired
                ));
            }
            if compute.deployment.as_deref() == Some("FAILED") {
                problems.push(format!("{}: the current deployment FAILED", compute.name));
            }
        }
    }
    if let Some(targets) = targets {
        if targets.healthy == 0 {
            problems.push("no healthy target behind the load balancer".to_owned());
        }
        for target in &targets.unhealthy {
            problems.push(format!("target {target}"));
        }
    }
    if let Some(database) = database {
        if database.status != "available" {
            problems.push(format!("database cluster {} is {}", database.cluster, database.status));
        }
        match (&database.writer, &database.writer_status) {
            (None, _) => problems.push(format!("database cluster {} has no writer", database.cluster)),
            (Some(writer), Some(status)) if status != "available" => {
                problems.push(format!("database writer {writer} is {status}"));
            }
            _ => {}
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compute(running: u32, deployment: &str) -> ComputeStatus {
        ComputeStatus {
            name: "api".into(),
            desired: 2,
            running,
            pending: 2 - running,
            deployment: Some(deployment.into()),
            revision: "api@sha256:1".into(),
            events: Vec::new(),
        }
    }

    #[test]
    fn healthy_needs_everything_running_targets_healthy_and_the_database_available() {
        let targets = TargetsStatus {
            healthy: 2,
            unhealthy: Vec::new(),
        };
        let database = DatabaseStatus {
            cluster: "staging-db".into(),
            status: "available".into(),
            writer: Some("staging-db-1".into()),
            writer_status: Some("available".into()),
        };
        assert!(problems(Some(&compute(2, "COMPLETED")), Some(&targets), Some(&database)).is_empty());
        let sick = TargetsStatus {
            healthy: 1,
            unhealthy: vec!["10.1.2.3 unhealthy (Target.ResponseCodeMismatch)".into()],
        };
        let failover = DatabaseStatus {
            writer_status: Some("rebooting".into()),
            ..database
        };
        assert_eq!(
            problems(Some(&compute(1, "FAILED")), Some(&sick), Some(&failover)),
            [
                "api: 1 of 2 running",
                "api: the current deployment FAILED",
                "target 10.1.2.3 unhealthy (Target.ResponseCodeMismatch)",
                "database writer staging-db-1 is rebooting"
            ]
        );
    }
}
