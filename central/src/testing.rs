//! Records for this crate's unit tests.

use kechuang_types::{Body, Record};

/// A demand of node `sz` with `description`.
pub fn demand(description: &str) -> Record {
    let mut record = kechuang_types::testing::demand("需求");
    if let Body::Demand(d) = &mut record.body {
        d.description = description.into();
    }
    record
}
