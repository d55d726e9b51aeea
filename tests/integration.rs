//! The one integration-test binary: the real `deployer` against the local AWS emulator.

mod support;

mod api;
mod errors;
mod push;
mod round_trip;
mod tags_only;
