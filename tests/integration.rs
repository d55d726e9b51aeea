//! The one integration-test binary: the real `deployer` against the local AWS emulator.

mod support;

mod access_logs;
mod alarms;
mod api;
mod bootstrap;
mod cost;
mod destroy_order;
mod drift;
mod errors;
mod faults;
mod graph;
mod https;
mod lock;
mod operate;
mod permissions;
mod push;
mod real_aws;
mod round_trip;
mod saved_plan;
mod scaling;
mod schema;
mod shell;
mod slow;
mod tags_only;
mod untrusted;
