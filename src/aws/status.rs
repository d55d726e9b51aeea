//! What `deployer status` reads: the live state of an environment's running parts, one
//! reader per service's adapter, as plain data the command judges and the UI renders.

use serde::Serialize;

/// What one resource says about how the environment runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Compute(ComputeStatus),
    Targets(TargetsStatus),
    Database(DatabaseStatus),
    Alarm(AlarmStatus),
}

/// A CloudWatch alarm and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmStatus {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA` (no data yet, or not enough).
    pub state: String,
}

/// An ECS service, or an Auto Scaling group, as running now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComputeStatus {
    pub name: String,
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
    /// The current deployment's state (`COMPLETED`, `IN_PROGRESS`, `FAILED`), or the instance
    /// refresh's, when one is known.
    pub deployment: Option<String>,
    /// What runs: the task definition's image (a digest when deployer deployed it), or the
    /// launch template version.
    pub revision: String,
    /// The newest events ECS or Auto Scaling recorded, newest first.
    pub events: Vec<String>,
}

/// The targets behind the load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetsStatus {
    pub healthy: u32,
    /// Each unhealthy target with AWS's reason code.
    pub unhealthy: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatabaseStatus {
    pub cluster: String,
    pub status: String,
    pub writer: Option<String>,
    pub writer_status: Option<String>,
}

/// How many events a status shows.
pub(crate) const EVENTS: usize = 5;

/// One deployed revision: a task definition revision (ECS) or a launch template version (EC2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revision {
    /// `staging-api:7`, or the launch template version number.
    pub revision: String,
    /// RFC 3339, as AWS recorded it.
    pub created_at: String,
    /// Who made it, where AWS records it (an IAM principal ARN).
    pub created_by: Option<String>,
    pub image: String,
    /// Whether it is what runs now (the service's task definition, the template's default).
    pub current: bool,
}

/// How many revisions `history` lists.
pub(crate) const REVISIONS: i32 = 10;
