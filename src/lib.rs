//! deployer: infrastructure as code for AWS. The binary in `main.rs` is a thin shell over this
//! library so tests and benchmarks reuse the same code.

pub mod config;
pub mod model;
pub mod plan;
pub mod apply;
