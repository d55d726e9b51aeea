//! What every service adapter shares over the SDK: error classification (`error.rs`), the
//! retry classifier every client gets (`classifier.rs`), retries of what AWS refuses for a
//! while (`retry.rs`), waits (`wait.rs`), tags (`tags.rs`, with the `tag_api!` macro) and
//! paging (`all_pages!`, below). Re-exported by `aws/mod.rs` under their old paths, so an
//! adapter writes `super::error::AwsError` wherever it sits.

/// Every item of a paginated list call, all pages, with AWS's error kept under the
/// operation's name. Defined before the modules, and `sdk` before the adapters, so all of them can use it.
macro_rules! all_pages {
    ($request:expr, $operation:literal) => {
        $request
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op($operation)
    };
}

pub(crate) mod classifier;
pub(crate) mod error;
pub(crate) mod retry;
pub(crate) mod tags;
pub(crate) mod wait;
