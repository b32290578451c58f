//! What assessments and teams add to matching: a society's 推荐 breaks a
//! tie between equal outcomes (and nothing more), and a team is ranked
//! beside the experts, its serving members known to the engine.

use kechuang_matching::{DemandProfile, Engine, Params};
use kechuang_types::{
    Assessment, Body, Date, Hlc, Member, NodeId, Part, Recommendation, Record, RecordKind, Region, Scores, SupplyKind,
    Team,
};

fn demand() -> Record {
    let mut d = kechuang_types::testing::demand("储能电站热失控预警");
    if let Body::Demand(x) = &mut d.body {
        x.description = "储能电站锂电池热失控早期预警，基于电化学阻抗谱".into();
        x.keywords = vec!["热失控".into(), "早期预警".into()];
    }
    d
}

fn outcome() -> Record {
    let mut o = kechuang_types::testing::outcome("锂电池热失控早期预警方法");
    if let Body::Outcome(x) = &mut o.body {
        x.summary = "电化学阻抗谱在线测量，提前数小时预警储能电站电芯热失控".into();
        x.keywords = vec!["热失控".into(), "早期预警".into()];
    }
    o
}

fn recommendation(subject: &Record, verdict: Recommendation) -> Record {
    Record {
        meta: kechuang_types::Meta::new(NodeId::parse("n", "ces").unwrap(), Hlc::from_u64(1), Default::default()),
        body: Body::Assessment(Assessment {
            subject: subject.meta.id,
            subject_kind: RecordKind::Outcome,
            subject_owner: subject.meta.owner.clone(),
            subject_region: subject.region(),
            industry: kechuang_types::Industry::parse("i", "C38").unwrap(),
            challenge_owner: None,
            evaluator: "评审组".into(),
            scores: Scores { advancement: 4, maturity: 4, market: 4, risk: 2 },
            verdict,
            text: "意见".into(),
        }),
    }
}

fn order(engine: &Engine) -> Vec<kechuang_types::RecordId> {
    let profile = DemandProfile::from_record(&demand()).unwrap();
    engine.rank(&profile, Date::today()).unwrap().into_iter().map(|c| c.supply).collect()
}

#[test]
fn a_recommendation_breaks_a_tie_between_equal_outcomes_and_leaves_with_its_assessment() {
    let mut engine = Engine::in_memory(Params::default()).unwrap();
    let (a, b) = (outcome(), outcome());
    for o in [&a, &b] {
        engine.upsert(o, true).unwrap();
    }
    engine.commit().unwrap();
    let tied = order(&engine);
    assert_eq!(tied.len(), 2);
    // Recommend the one the tie put second.
    let second = tied[1];
    let subject = if a.meta.id == second { &a } else { &b };
    let mut assessed = recommendation(subject, Recommendation::Recommend);
    engine.upsert(&assessed, true).unwrap();
    assert!(engine.recommended(&second));
    assert_eq!(order(&engine)[0], second, "the recommended outcome first");
    let profile = DemandProfile::from_record(&demand()).unwrap();
    let best = engine.rank(&profile, Date::today()).unwrap().remove(0);
    assert!(engine.explain(&profile, &best).contains("学会评估：推荐"));

    // Revised to 不推荐, then withdrawn: the signal goes with it.
    assessed.body = recommendation(subject, Recommendation::NotRecommend).body;
    engine.upsert(&assessed, true).unwrap();
    assert!(!engine.recommended(&second));
    assert_eq!(order(&engine), tied);
}

#[test]
fn a_team_is_ranked_beside_the_experts_with_its_serving_members() {
    let mut engine = Engine::in_memory(Params::default()).unwrap();
    let lead = kechuang_types::testing::expert("陈教授");
    let mut other = kechuang_types::testing::expert("王教授");
    other.meta.owner = NodeId::parse("n", "szu").unwrap();
    let member = |e: &Record, accepted: bool| Member {
        expert: e.meta.id,
        node: e.meta.owner.clone(),
        name: e.title(),
        accepted: Part::new(Hlc::from_u64(1), accepted),
    };
    let mut team = Record {
        meta: kechuang_types::Meta::new(lead.meta.owner.clone(), Hlc::from_u64(1), Default::default()),
        body: Body::Team(Team {
            name: "储能安全服务团".into(),
            description: "储能电站热失控早期预警".into(),
            lead: lead.meta.id,
            members: vec![member(&lead, false), member(&other, false)],
            fields: vec!["储能安全".into()],
            keywords: vec!["热失控".into(), "早期预警".into()],
            region: Region::parse("r", "440300").unwrap(),
            cities: vec![],
            industries: vec![],
            service_modes: vec![],
        }),
    };
    engine.upsert(&team, true).unwrap();
    engine.commit().unwrap();
    let profile = engine.supply(&team.meta.id).unwrap();
    assert_eq!(profile.kind, SupplyKind::Team);
    assert_eq!(profile.members, [lead.meta.id], "the other node's expert has not accepted");
    assert!(profile.member_nodes.is_empty());
    let ranked = engine.rank(&DemandProfile::from_record(&demand()).unwrap(), Date::today()).unwrap();
    assert!(ranked.iter().any(|c| c.supply == team.meta.id && c.kind == SupplyKind::Team), "{ranked:?}");

    // szu accepts: its expert serves, and the engine knows which teams it is in.
    if let Body::Team(t) = &mut team.body {
        t.members[1].accepted = Part::new(Hlc::from_u64(2), true);
    }
    engine.upsert(&team, true).unwrap();
    assert_eq!(engine.teams_of(&other.meta.id), [team.meta.id]);
    assert_eq!(engine.supply(&team.meta.id).unwrap().member_nodes, [other.meta.owner.clone()]);
    team.meta.deleted = true;
    engine.upsert(&team, true).unwrap();
    assert!(engine.teams_of(&other.meta.id).is_empty() && engine.teams_of(&lead.meta.id).is_empty());
}
