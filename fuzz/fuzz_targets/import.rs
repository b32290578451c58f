//! The import parser: any file content is either read into valid drafts or
//! reported row by row, never a panic that escapes it.
#![no_main]

use std::sync::Once;

use kechuang_interchange::{parse_csv, parse_json, parse_jsonl, parse_xlsx};
use libfuzzer_sys::fuzz_target;

static QUIET: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts on any panic, even one the code under test
    // catches; `parse_xlsx` catches its reader's panics by design. A panic
    // that escapes still aborts: libfuzzer-sys wraps each run in its own
    // catch_unwind and aborts when it sees one.
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
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
