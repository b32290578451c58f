//! What a node checks of the rows an operator publishes, before anything
//! is stored: every field (as on receipt anywhere), that each record lies
//! in this node's area, and that a challenge's deadline has not passed.
//! Central checks the same on every version; checking here first means the
//! operator hears at once, row by row, instead of from a refusal later.

use kechuang_proto::{draft_from_wire, pb};
use kechuang_sync::{Peer, check_place};
use kechuang_types::{Body, Date, Draft};

use crate::daemon::Node;

/// The valid drafts of `wire`, and one problem per bad draft and field.
pub fn check(node: &Node, wire: Vec<pb::Draft>) -> kechuang_store::Result<(Vec<Draft>, Vec<pb::DraftProblem>)> {
    let mut drafts = Vec::with_capacity(wire.len());
    let mut problems = Vec::new();
    for (index, d) in wire.into_iter().enumerate() {
        let problem = |(field, reason): (String, String)| pb::DraftProblem { index: index as u32, field, reason };
        match draft_from_wire(d) {
            Ok(draft) => {
                problems.extend(check_draft(node, &draft)?.into_iter().map(problem));
                drafts.push(draft);
            }
            Err(e) => problems.push(problem((e.field().to_owned(), e.reason()))),
        }
    }
    Ok((drafts, problems))
}

/// What this node finds wrong with a valid draft, as (field, reason): a
/// region outside its area, a challenge whose deadline has passed.
pub fn check_draft(node: &Node, draft: &Draft) -> kechuang_store::Result<Vec<(String, String)>> {
    let me =
        Peer { id: node.config.id.clone(), kind: node.config.kind, region: node.config.region, fields: Vec::new() };
    let today = Date::today();
    let mut problems = Vec::new();
    if let Some(region) = draft.body.region()
        && let Err(refusal) = check_place(&me, "region", region)
    {
        problems.push((refusal.field, refusal.reason));
    }
    if let Body::Demand(demand) = &draft.body
        && demand.is_challenge
        && let Some(deadline) = demand.deadline.filter(|d| *d < today)
    {
        // An unchanged challenge may be published again after its
        // deadline (importing a file twice changes nothing).
        let held = match &draft.external_id {
            Some(ext) => node.store.by_external(draft.body.kind(), ext)?,
            None => None,
        };
        let unchanged = held.is_some_and(|r| matches!(&r.body, Body::Demand(h) if h.deadline == Some(deadline)));
        if !unchanged {
            let reason =
                format!("{deadline} has passed (today is {today} in China): a challenge takes bids until its deadline");
            problems.push(("deadline".into(), reason));
        }
    }
    Ok(problems)
}
