//! Each kind's spec, one file per AWS service as `aws/` has them: what deployer wants of a
//! resource, compared attribute by attribute with what discovery reads back. What every spec
//! shares (`Ref`, `Attribute`, `Reference`) is `model/spec.rs`.

mod app_scaling;
mod asg;
mod cloudwatch;
mod ec2;
mod ecr;
mod ecs;
mod elb;
mod elbv2;
mod iam;
mod logs;
mod rds;
mod s3;
mod sns;
mod target_tracking;

pub use app_scaling::*;
pub use asg::*;
pub use cloudwatch::*;
pub use ec2::*;
pub use ecr::*;
pub use ecs::*;
pub use elb::*;
pub use elbv2::*;
pub use iam::*;
pub use logs::*;
pub use rds::*;
pub use s3::*;
pub use sns::*;
pub use target_tracking::*;
