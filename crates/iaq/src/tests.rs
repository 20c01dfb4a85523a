use proptest::prelude::*;
use time::macros::date;

use super::*;

const TODAY: Date = date!(2026 - 12 - 02);

const VALID: &str = "IAQ.TX2270000.AX.\nPUR/C.ATN/SGT J SMITH.PHN/5125550142.NAM/GARCIA LOPEZ,MARIA ELENA.DOB/19900412.SEX/F.\nPOB/MX.CUS/Y.OFF/5404.ARN/A012345678.FBI/123456AB1.SID/TX12345678.OLN/D1234567.";

/// The valid message with field `tag`'s value replaced (or the field removed, for `None`).
fn with(tag: &str, value: Option<&str>) -> String {
    let mut out = String::new();
    let (head, body) = VALID.split_at(VALID.find("PUR/").unwrap());
    out.push_str(head);
    for f in split_fields(&unwrap_lines(body)) {
        let f = f.trim().trim_end_matches('.');
        if f.is_empty() {
            continue;
        }
        if f.starts_with(&format!("{tag}/")) {
            if let Some(v) = value {
                out.push_str(&format!("{tag}/{v}."));
            }
        } else {
            out.push_str(&format!("{f}."));
        }
    }
    out
}

fn errors(text: &str) -> Vec<FieldError> {
    parse(text, TODAY).expect_err("the message is refused")
}

fn only(text: &str) -> FieldError {
    let e = errors(text);
    assert_eq!(e.len(), 1, "{e:?}");
    e.into_iter().next().unwrap()
}

#[test]
fn a_full_message_reads_into_the_subject_and_inquirer() {
    let q = parse(VALID, TODAY).unwrap();
    assert_eq!(q.ori.as_str(), "TX2270000");
    assert_eq!(q.purpose, PurposeCode::CriminalJustice);
    assert_eq!(q.attention, "SGT J SMITH");
    assert_eq!(q.phone.as_str(), "+15125550142");
    let s = &q.subject;
    assert_eq!(s.family_names[0].as_str(), "GARCIA LOPEZ");
    let given: Vec<&str> = s.given_names.iter().map(|n| n.as_str()).collect();
    assert_eq!(given, ["MARIA", "ELENA"]);
    assert_eq!(s.date_of_birth, Some(date!(1990 - 04 - 12)));
    assert_eq!(s.sex, Some(Sex::Female));
    assert_eq!(s.place_of_birth.as_ref().unwrap().as_str(), "MX");
    assert_eq!(s.in_custody, Some(true));
    assert_eq!(s.offense_code.as_ref().unwrap().as_str(), "5404");
    assert_eq!(s.a_number.as_ref().unwrap().to_string(), "A012345678");
    assert_eq!(s.fbi_number.as_ref().unwrap().as_str(), "123456AB1");
    assert_eq!(s.state_id.as_ref().unwrap().as_str(), "TX12345678");
    assert_eq!(q.licence.as_deref(), Some("D1234567"));
}

#[test]
fn optional_fields_may_be_left_out_and_fields_come_in_any_order() {
    let mut text = VALID.to_owned();
    for tag in OPTIONAL {
        text = {
            let saved = text.clone();
            let (head, body) = saved.split_at(saved.find("PUR/").unwrap());
            let mut out = head.to_owned();
            for f in split_fields(&unwrap_lines(body)) {
                let f = f.trim().trim_end_matches('.');
                if !f.is_empty() && !f.starts_with(&format!("{tag}/")) {
                    out.push_str(&format!("{f}."));
                }
            }
            out
        };
    }
    let q = parse(&text, TODAY).unwrap();
    assert!(q.subject.a_number.is_none() && q.licence.is_none());
    let reordered = "IAQ.TX2270000.AX.OFF/5404.CUS/N.POB/TX.SEX/M.DOB/19800101.NAM/DOE,JOHN.PHN/(512) 555-0142.ATN/DEP K LEE.PUR/F.";
    let q = parse(reordered, TODAY).unwrap();
    assert_eq!(q.purpose, PurposeCode::Firearms);
    assert_eq!(q.subject.in_custody, Some(false));
    assert_eq!(q.phone.as_str(), "+15125550142");
}

#[test]
fn a_value_may_hold_a_period_and_lines_may_wrap_anywhere() {
    let text = VALID
        .replace("NAM/GARCIA LOPEZ,MARIA ELENA", "NAM/ST JOHN,MARY\n ANN")
        .replace("ATN/SGT J SMITH", "ATN/SGT. J. SMITH");
    let q = parse(&text, TODAY).unwrap();
    assert_eq!(q.attention, "SGT. J. SMITH");
    assert_eq!(
        q.subject.given_names.len(),
        2,
        "{:?}",
        q.subject.given_names
    );
    let padded = VALID
        .replace(".\n", ".   \n")
        .replace("PUR/C.ATN/", "PUR/C. ATN/");
    let q = parse(&padded, TODAY).unwrap();
    assert_eq!(
        q.purpose,
        PurposeCode::CriminalJustice,
        "padding after a period is not a value"
    );
    assert_eq!(q.subject.sex, Some(Sex::Female));
    let dotted = VALID.replace("NAM/GARCIA LOPEZ,MARIA ELENA", "NAM/ST. JOHN,MARY J.");
    let q = parse(&dotted, TODAY).unwrap();
    assert_eq!(q.subject.family_names[0].as_str(), "ST. JOHN");
    let crlf = VALID.replace('\n', "\r\n");
    assert!(parse(&crlf, TODAY).is_ok());
    let lower = VALID
        .replacen("SEX/F", "SEX/f", 1)
        .replacen("CUS/Y", "CUS/y", 1);
    assert!(
        parse(&lower, TODAY).is_ok(),
        "codes are read in either case"
    );
}

#[test]
fn every_required_field_is_required() {
    for tag in REQUIRED {
        let e = only(&with(tag, None));
        assert_eq!((e.field.as_str(), e.code), (tag, "missing_field"), "{e:?}");
    }
    let e = errors("IAQ.TX2270000.AX.");
    assert_eq!(e.len(), REQUIRED.len(), "{e:?}");
}

#[test]
fn each_malformed_field_is_named_precisely() {
    let cases: &[(&str, &str, &str)] = &[
        ("PUR", "X", "bad_code"),
        ("PUR", "CC", "bad_code"),
        (
            "ATN",
            "A VERY LONG NAME OF AN OFFICER THAT GOES ON",
            "too_long",
        ),
        ("PHN", "555-0142", "bad_phone"),
        ("PHN", "51255501420", "bad_phone"),
        ("PHN", "512555014X", "bad_phone"),
        ("PHN", "0125550142", "bad_phone"),
        ("NAM", "GARCIA MARIA", "bad_format"),
        ("NAM", ",MARIA", "bad_format"),
        ("NAM", "GARCIA,MARIA,ELENA", "bad_format"),
        ("NAM", "GARC1A,MARIA", "bad_format"),
        ("NAM", "GARCIA LOPEZ DE LA CRUZ,MARIA ELENA", "too_long"),
        ("DOB", "1990-04-12", "bad_date"),
        ("DOB", "19900231", "bad_date"),
        ("DOB", "19901312", "bad_date"),
        ("DOB", "18991231", "bad_date"),
        ("DOB", "2027010", "bad_date"),
        ("DOB", "20270101", "future_date"),
        ("SEX", "X", "bad_code"),
        ("SEX", "MALE", "bad_code"),
        ("POB", "MEX", "bad_code"),
        ("POB", "M1", "bad_code"),
        ("CUS", "YES", "bad_code"),
        ("OFF", "540", "bad_code"),
        ("OFF", "54O4", "bad_code"),
        ("ARN", "A12345", "bad_a_number"),
        ("ARN", "AX12345678", "bad_a_number"),
        ("FBI", "1234567890", "too_long"),
        ("FBI", "123-456", "bad_format"),
        ("SID", "ZZ12345678", "bad_format"),
        ("SID", "TX", "bad_format"),
        ("SID", "TX123456789", "too_long"),
        ("OLN", "D123 4567", "bad_format"),
        ("OLN", "D12345678901234567890", "too_long"),
    ];
    for (tag, value, code) in cases {
        let e = only(&with(tag, Some(value)));
        assert_eq!(
            (e.field.as_str(), e.code),
            (*tag, *code),
            "{tag}/{value}: {e:?}"
        );
        assert!(!e.message.is_empty());
    }
    for tag in REQUIRED.iter().chain(&OPTIONAL) {
        let e = only(&with(tag, Some("")));
        assert_eq!((e.field.as_str(), e.code), (*tag, "empty_field"), "{e:?}");
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = with("DOB", Some("19901312"))
        .replace("SEX/F", "SEX/Q")
        .replace("CUS/Y", "CUS/MAYBE");
    let e = errors(&text);
    let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["DOB", "SEX", "CUS"], "{e:?}");
}

#[test]
fn unknown_duplicate_and_malformed_fields_are_refused() {
    let e = only(&VALID.replace("OLN/D1234567.", "OLN/D1234567.XYZ/1."));
    assert_eq!((e.field.as_str(), e.code), ("XYZ", "unknown_field"));
    let e = only(&VALID.replace("SEX/F.", "SEX/F.SEX/M."));
    assert_eq!((e.field.as_str(), e.code), ("SEX", "duplicate_field"));
    let e = only(&VALID.replace("OLN/D1234567.", "OLN/D1234567.HELLO."));
    // A chunk that is not TAG/value belongs to the value before it (a period inside a value).
    assert_eq!((e.field.as_str(), e.code), ("OLN", "bad_format"), "{e:?}");
    let e = errors(&VALID.replacen("PUR/C", "pur/C", 1));
    assert!(e.iter().any(|e| e.code == "malformed_field"), "{e:?}");
}

#[test]
fn the_header_and_the_end_are_checked() {
    let e = only(&VALID.replacen("IAQ.", "IAR.", 1));
    assert_eq!((e.field.as_str(), e.code), ("header", "bad_header"));
    let e = only(&VALID.replacen("TX2270000", "TX22700", 1));
    assert_eq!((e.field.as_str(), e.code), ("header", "bad_ori"));
    // ZZ is no state: the ORI is refused.
    let e = only(&VALID.replacen("TX2270000", "ZZ2270000", 1));
    assert_eq!(e.code, "bad_ori", "{e:?}");
    let e = only(&VALID.replacen(".AX.", ".BX.", 1));
    assert_eq!((e.field.as_str(), e.code), ("header", "bad_destination"));
    let e = only(VALID.trim_end_matches('.'));
    assert_eq!((e.field.as_str(), e.code), ("message", "not_terminated"));
    let e = only("HELLO");
    assert_eq!(e.code, "bad_header");
    let e = only("");
    assert_eq!(e.code, "bad_header");
}

#[test]
fn bad_bytes_and_absurd_lengths_are_refused_before_reading() {
    let e = only(&VALID.replace("GARCIA", "GARCÍA"));
    assert_eq!((e.field.as_str(), e.code), ("message", "bad_character"));
    let e = only(&VALID.replace("SEX/F", "SEX/\u{7}F"));
    assert_eq!(e.code, "bad_character");
    let long = format!("{VALID}{}", "OLN/X.".repeat(400));
    let e = only(&long);
    assert_eq!(e.code, "message_too_long");
}

#[test]
fn the_reply_carries_the_reference_status_subject_and_response_only() {
    let q = parse(VALID, TODAY).unwrap();
    let text = iar(&Reply {
        ori: &q.ori,
        reference: "IAQ-000123",
        status: "ANSWERED",
        subject: &q.subject,
        response: Some(
            "The center is unable to confirm. Do not act on this inquiry as a confirmation.",
        ),
    });
    assert!(
        text.starts_with("IAR.TX2270000.AX.\nREF/IAQ-000123.STS/ANSWERED."),
        "{text}"
    );
    assert!(
        text.contains("NAM/GARCIA LOPEZ,MARIA ELENA.DOB/19900412."),
        "{text}"
    );
    assert!(
        text.ends_with(
            "RSP/The center is unable to confirm. Do not act on this inquiry as a confirmation."
        ),
        "{text}"
    );
    assert!(
        !text.contains("A012345678") && !text.contains("MX"),
        "nothing else about the subject: {text}"
    );
    let pending = iar(&Reply {
        ori: &q.ori,
        reference: "R",
        status: "CHECKED",
        subject: &q.subject,
        response: None,
    });
    assert!(!pending.contains("RSP/"), "{pending}");
}

fn any_field() -> impl Strategy<Value = String> {
    let tag = prop::sample::select(vec![
        "PUR", "ATN", "PHN", "NAM", "DOB", "SEX", "POB", "CUS", "OFF", "ARN", "FBI", "SID", "OLN",
        "XYZ",
    ]);
    (tag, "[ -~]{0,12}").prop_map(|(t, v)| format!("{t}/{v}."))
}

proptest! {
    #[test]
    fn any_text_gets_an_answer_never_a_panic(text in "\\PC{0,300}") {
        let _ = parse(&text, TODAY);
    }

    #[test]
    fn messages_of_any_fields_get_an_answer_and_name_known_things(
        fields in prop::collection::vec(any_field(), 0..16),
    ) {
        let text = format!("IAQ.TX2270000.AX.{}", fields.concat());
        match parse(&text, TODAY) {
            Ok(q) => prop_assert!(q.subject.validate().is_ok()),
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in errors {
                    prop_assert!(!e.message.is_empty());
                    prop_assert!(e.field.len() == 3 || e.field == "message" || e.field == "header", "{:?}", e);
                }
            }
        }
    }

    #[test]
    fn a_reply_parses_back_as_fields(ref_no in "[A-Z0-9-]{1,20}", text in "[ -~]{0,200}") {
        let q = parse(VALID, TODAY).unwrap();
        let reply = iar(&Reply { ori: &q.ori, reference: &ref_no, status: "ANSWERED", subject: &q.subject, response: Some(&text) });
        let body = unwrap_lines(reply.split_once(".AX.").unwrap().1);
        let body = body.trim().trim_end_matches('.');
        let tags: Vec<&str> = split_fields(body).iter().filter_map(|f| tag_of(f.trim()).map(|(t, _)| t)).collect();
        prop_assert_eq!(tags, vec!["REF", "STS", "NAM", "DOB", "RSP"]);
    }
}
