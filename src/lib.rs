//! deployer: infrastructure as code for AWS. The binary in `main.rs` is a thin shell over this
//! library so tests and benchmarks reuse the same code.

pub mod apply;
pub mod aws;
pub mod cli;
pub mod config;
pub mod cost;
pub mod engine;
pub mod error_chain;
pub mod model;
pub mod ops;
pub mod plan;
pub mod printable;
pub mod ui;
