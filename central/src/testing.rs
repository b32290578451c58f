//! Records for this crate's unit tests.

use kechuang_types::*;

/// A demand of node `sz` with `description`.
pub fn demand(description: &str) -> Record {
    Record {
        meta: Meta {
            id: RecordId::new(),
            owner: NodeId::parse("owner", "sz").unwrap(),
            version: Hlc::from_u64(1),
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            deleted: false,
            external_id: None,
        },
        body: Body::Demand(Demand {
            title: "需求".into(),
            description: description.into(),
            industry: Industry::parse("industry", "C38").unwrap(),
            keywords: vec![],
            region: Region::parse("region", "440300").unwrap(),
            budget_wan: None,
            deadline: None,
            min_trl: Trl::new("min_trl", 5).unwrap(),
            is_challenge: false,
            enterprise: String::new(),
            contact: None,
        }),
    }
}
