//! Environment files: schema, loading, validation and error rendering.
//! Owns everything about `environments/*.yaml`; knows nothing of AWS.

mod error;
mod image;
mod json_schema;
mod load;
mod locate;
mod schema;
mod subnets;
mod validate;

#[cfg(test)]
mod tests;

pub use error::{ConfigError, Problem};
pub use image::{ImageReference, check_image, is_digest_in};
pub use json_schema::environment_schema;
pub use load::{LoadedEnvironment, available_environments, load_environment, parse_environment};
pub use locate::Position;
pub use schema::*;
pub(crate) use validate::MAX_DB_INSTANCES;
pub use validate::{RESERVED_NAME, is_account_id, is_region_name};
