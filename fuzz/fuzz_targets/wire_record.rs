//! Wire decoding + validation: any bytes either fail cleanly or yield a
//! record that survives a round trip unchanged.
#![no_main]

use kechuang_proto::pb;
use kechuang_types::Record;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(wire) = pb::Record::decode(data) else { return };
    let Ok(record) = Record::try_from(wire) else { return };
    let again = Record::try_from(pb::Record::from(record.clone())).expect("a valid record re-validates");
    assert_eq!(again, record, "wire round trip changed a record");
});
