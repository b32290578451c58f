//! The one place central's errors become gRPC statuses.

use tonic::Status;

/// Maps a storage error to a status; logged here, where it is handled.
pub fn storage(e: kechuang_store::Error) -> Status {
    tracing::error!(error = %e, "storage failure");
    Status::unavailable(format!("central storage: {e}"))
}

/// Maps a validation error on record `index` to INVALID_ARGUMENT naming the field.
pub fn invalid(what: &str, e: kechuang_types::Error) -> Status {
    Status::invalid_argument(format!("{what}: {e}"))
}

/// Maps a failed blocking task to INTERNAL.
pub fn join(e: tokio::task::JoinError) -> Status {
    tracing::error!(error = %e, "blocking task failed");
    Status::internal("central task failed")
}
