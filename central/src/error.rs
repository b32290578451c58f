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

/// An act on the records (the national office's, or a node's interest):
/// FAILED_PRECONDITION with the reason when the records do not allow it.
pub fn act(e: crate::matcher::Act) -> Status {
    match e {
        crate::matcher::Act::Refused(reason) => Status::failed_precondition(reason),
        crate::matcher::Act::Failed(e) => {
            tracing::error!(error = format!("{e:#}"), "an act on the records failed");
            Status::unavailable(format!("central: {e:#}"))
        }
    }
}
