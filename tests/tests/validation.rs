//! Every input is checked before it is stored: a malformed record is
//! refused naming the field (as a refusal of that change, or with
//! INVALID_ARGUMENT when it does not even name a record), and central's
//! store is unchanged.

mod common;

use common::in_days;
use common::wire::{demand, node_client, push};
use kechuang_proto::pb;
use kechuang_testkit::Cluster;
use tonic::Code;

fn valid_demand() -> pb::Record {
    demand("sz", "锂电池热失控预警", 100).into()
}

fn with_demand(f: impl FnOnce(&mut pb::Demand)) -> pb::Record {
    let mut r = valid_demand();
    if let Some(pb::record::Body::Demand(d)) = &mut r.body {
        f(d);
    }
    r
}

fn with_meta(f: impl FnOnce(&mut pb::Meta)) -> pb::Record {
    let mut r = valid_demand();
    if let Some(m) = &mut r.meta {
        f(m);
    }
    r
}

fn outcome(f: impl FnOnce(&mut pb::Outcome)) -> pb::Record {
    let mut o = pb::Outcome {
        title: "基于电化学阻抗谱的热失控预警".into(),
        r#abstract: "在线测量阻抗谱特征频点".into(),
        industry: "C38".into(),
        keywords: vec!["储能".into()],
        institution: "岭南工业大学".into(),
        region: "440100".into(),
        trl: 7,
        ip: "发明专利 CN202010476989.9".into(),
        transfer_modes: vec!["技术许可".into()],
        price_wan: Some(150.0),
        contact: None,
    };
    f(&mut o);
    let mut r = valid_demand();
    r.body = Some(pb::record::Body::Outcome(o));
    r
}

fn expert(f: impl FnOnce(&mut pb::Expert)) -> pb::Record {
    let mut e = pb::Expert {
        name: "陈立新".into(),
        affiliation: "岭南工业大学".into(),
        title: "教授".into(),
        fields: vec!["储能安全".into()],
        keywords: vec![],
        region: "440100".into(),
        available: vec![pb::DateRange { from: in_days(40).to_string(), to: in_days(200).to_string() }],
        service_modes: vec!["技术咨询".into()],
        capacity: Some(3),
        contact: None,
    };
    f(&mut e);
    let mut r = valid_demand();
    r.body = Some(pb::record::Body::Expert(e));
    r
}

fn contact(email: &str, phone: &str) -> Option<pb::Contact> {
    Some(pb::Contact { person: "周工".into(), phone: phone.into(), email: email.into() })
}

/// Malformed records, each with the field its error must name.
fn malformed() -> Vec<(&'static str, pb::Record)> {
    vec![
        ("meta", pb::Record { meta: None, ..valid_demand() }),
        ("id", with_meta(|m| m.id.truncate(15))),
        ("id", with_meta(|m| m.id = uuid_v4_bytes())),
        ("owner", with_meta(|m| m.owner = "SZ City".into())),
        ("version", with_meta(|m| m.version = 0)),
        ("external_id", with_meta(|m| m.external_id = "x".repeat(65))),
        ("body", pb::Record { body: None, ..valid_demand() }),
        ("title", with_demand(|d| d.title.clear())),
        ("title", with_demand(|d| d.title = "长".repeat(121))),
        ("title", with_demand(|d| d.title = " 前导空格".into())),
        ("description", with_demand(|d| d.description.clear())),
        ("description", with_demand(|d| d.description = "含\u{7}控制字符".into())),
        ("industry", with_demand(|d| d.industry = "Z99".into())),
        ("industry", with_demand(|d| d.industry = "C12".into())),
        ("region", with_demand(|d| d.region = "44030".into())),
        ("region", with_demand(|d| d.region = "990000".into())),
        ("min_trl", with_demand(|d| d.min_trl = 0)),
        ("min_trl", with_demand(|d| d.min_trl = 10)),
        ("deadline", with_demand(|d| d.deadline = format!("{}-02-30", in_days(0).year() + 1))),
        ("deadline", with_demand(|d| d.is_challenge = true)),
        ("budget_wan", with_demand(|d| d.budget_wan = Some(-5.0))),
        ("budget_wan", with_demand(|d| d.budget_wan = Some(f64::NAN))),
        ("keywords", with_demand(|d| d.keywords = (0..21).map(|i| format!("词{i}")).collect())),
        ("keywords[0]", with_demand(|d| d.keywords = vec!["很".repeat(31)])),
        ("contact.email", with_demand(|d| d.contact = contact("zhou@", ""))),
        ("contact.phone", with_demand(|d| d.contact = contact("", "call me"))),
        ("trl", outcome(|o| o.trl = 11)),
        ("ip", outcome(|o| o.ip = "发明专利 CN202010476989.3".into())),
        ("ip", outcome(|o| o.ip = "发明专利 CN12AB".into())),
        ("transfer_modes[0]", outcome(|o| o.transfer_modes = vec!["卖断".into()])),
        ("available[0]", expert(|e| e.available[0].to = in_days(30).to_string())),
        ("service_modes[0]", expert(|e| e.service_modes = vec!["很".repeat(31)])),
        ("fields", expert(|e| e.fields.clear())),
        ("capacity", expert(|e| e.capacity = Some(0))),
        ("name", expert(|e| e.name.clear())),
    ]
}

fn uuid_v4_bytes() -> Vec<u8> {
    let mut b = vec![0x11; 16];
    b[6] = 0x41; // version 4
    b[8] = 0x81;
    b
}

#[test]
fn malformed_records_are_refused_naming_the_field_and_nothing_is_stored() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.node("sz").terminate()?;
    let dir = cluster.node("sz").dir().to_owned();
    let cases = malformed();
    assert!(cases.len() >= 25);
    let rt = tokio::runtime::Runtime::new()?;
    let failures = rt.block_on(async {
        let mut c = node_client(&cluster.central.url(), &dir).await?;
        // A session opens with Hello, which registers the node: sz's own
        // process may have been stopped before it got that far.
        c.hello(pb::HelloRequest::default()).await?;
        let mut failures = Vec::new();
        for (i, (field, record)) in cases.into_iter().enumerate() {
            // A valid record first: nothing of the batch may be stored.
            let batch = push(1, vec![valid_demand(), record]);
            match c.push(batch).await {
                Ok(r) => match r.into_inner().refused.as_slice() {
                    [] => failures.push(format!("case {i} ({field}): accepted")),
                    [refusal] if refusal.seq == 2 && refusal.field == field => {}
                    other => failures.push(format!("case {i}: expected a refusal of {field} at seq 2: {other:?}")),
                },
                Err(s) if s.code() != Code::InvalidArgument => failures.push(format!("case {i} ({field}): {s:?}")),
                Err(s)
                    if !s.message().contains(&format!("{field}:")) && !s.message().contains(&format!("{field} ")) =>
                {
                    failures.push(format!("case {i}: expected field {field} in {:?}", s.message()))
                }
                Err(s) if !s.message().starts_with("changes[1]") => {
                    failures.push(format!("case {i}: the error does not name the record: {:?}", s.message()))
                }
                Err(_) => {}
            }
        }
        anyhow::Ok(failures)
    })?;
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(cluster.central.list(None, None)?.is_empty(), "central stored part of a refused batch");
    Ok(())
}

#[test]
fn oversized_batches_and_messages_are_refused() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.node("sz").terminate()?;
    let dir = cluster.node("sz").dir().to_owned();
    let rt = tokio::runtime::Runtime::new()?;
    let (too_many, too_big) = rt.block_on(async {
        let mut c = node_client(&cluster.central.url(), &dir).await?;
        let many = push(1, (0..2_001).map(|i| demand("sz", &format!("需求{i}"), 100 + i).into()).collect());
        let too_many = c.push(many).await.expect_err("2,001 changes accepted");
        let huge = with_demand(|d| d.description = "大".repeat(3_000_000));
        let too_big = c.push(push(1, vec![huge])).await.expect_err("a 9 MB message accepted");
        anyhow::Ok((too_many, too_big))
    })?;
    assert_eq!(too_many.code(), Code::InvalidArgument);
    assert!(too_many.message().starts_with("changes:"), "{}", too_many.message());
    assert!(
        matches!(too_big.code(), Code::OutOfRange | Code::ResourceExhausted | Code::InvalidArgument),
        "{too_big:?}"
    );
    assert!(cluster.central.list(None, None)?.is_empty());
    Ok(())
}

#[test]
fn a_bad_file_is_reported_row_by_row_and_nothing_of_it_is_stored() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    let file = cluster.path().join("demands.csv");
    std::fs::write(
        &file,
        "id,title,description,industry,keywords,region,budget_wan,deadline,is_challenge,min_trl\n\
         D-1,锂电池热失控预警,储能电站需要提前发现热失控,C38,储能,440300,80,2027-03-31,false,6\n\
         D-2,注塑件缺陷检测,自动识别缩痕,C29,注塑,440300,50,2027-06-31,false,5\n\
         D-3,焊缝质量评估,焊缝在线检测,C34,焊接,440300,abc,2027-06-30,false,7\n",
    )?;
    let stderr = cluster.node("sz").publish_failing(&[&file])?;
    assert!(stderr.contains("line 3: deadline"), "{stderr}");
    assert!(stderr.contains("line 4: budget_wan"), "{stderr}");
    assert!(cluster.node("sz").list(None)?.is_empty(), "the good row of a bad file was stored");
    assert_eq!(cluster.node("sz").status()?["unacked"], 0);
    Ok(())
}
