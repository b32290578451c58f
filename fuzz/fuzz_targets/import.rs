//! The import parser: any file content is either read into valid drafts or
//! reported row by row, never a panic.
#![no_main]

use kechuang_interchange::{parse_csv, parse_json, parse_jsonl, parse_xlsx};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut accepted = Vec::new();
    if let Ok(drafts) = parse_xlsx(data) {
        accepted.extend(drafts);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        for parse in [parse_csv, parse_json, parse_jsonl] {
            if let Ok(drafts) = parse(text) {
                accepted.extend(drafts);
            }
        }
    }
    for d in accepted {
        d.body.validate().expect("an accepted row is valid");
    }
});
