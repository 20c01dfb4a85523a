//! What the OpenAPI document says beyond each handler's own annotations, from the tables the
//! server enforces, so that the two cannot drift: how each operation authenticates (the
//! access table of [`crate::auth::access`]), every error status it can answer (admission
//! control, the guard, the extractors, the store) and the bounds every JSON string of a
//! request meets ([`crate::extract::parse_checked_json`]).

use serde_json::{Map, Value, json};

use crate::auth::{Gate, access};
use crate::extract::MAX_TEXT_CHARS;

/// The characters no JSON string of a request may hold: control characters but line feed
/// and tab, and the bidirectional formatting characters (as `is_control_or_bidi`).
pub const TEXT_PATTERN: &str =
    r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$";

/// How an operation authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    None,
    Session { changes: bool },
    PartnerKey,
    FeedKey,
}

fn auth_of(method: &str, path: &str) -> Auth {
    let Ok(m) = method.to_ascii_uppercase().parse::<axum::http::Method>() else {
        return Auth::None;
    };
    let changes = m != axum::http::Method::GET && m != axum::http::Method::HEAD;
    match access(&m, path) {
        Some((Gate::Public, _)) if path.starts_with("/partner/") => Auth::PartnerKey,
        Some((Gate::Public, _)) if path == "/records" => Auth::FeedKey,
        Some((Gate::Public, _)) | None => Auth::None,
        Some(_) => Auth::Session { changes },
    }
}

/// Completes `doc` (the document utoipa built from the handlers): security schemes and each
/// operation's requirement, every error status each operation can answer, and the bounds of
/// request strings.
pub fn complete(doc: &mut Value) {
    let components = doc
        .as_object_mut()
        .expect("the document is an object")
        .entry("components")
        .or_insert_with(|| json!({}));
    components["securitySchemes"] = json!({
        "session": {
            "type": "apiKey", "in": "cookie", "name": crate::auth::COOKIE,
            "description": "The session cookie `POST /session` sets."
        },
        "csrf": {
            "type": "apiKey", "in": "header", "name": crate::auth::CSRF_HEADER,
            "description": "The session's CSRF token (from `POST /session`), on every change."
        },
        "partner_key": {
            "type": "http", "scheme": "bearer",
            "description": "A partner agency's API key (`sbk_…`), issued by an administrator."
        },
        "feed_key": {
            "type": "http", "scheme": "bearer",
            "description": "A record feed's key, scoped to the record systems it may write."
        }
    });
    let mut body_refs = Vec::new();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                if !matches!(
                    method.as_str(),
                    "get" | "post" | "put" | "patch" | "delete" | "head"
                ) {
                    continue;
                }
                complete_operation(method, path, op, &mut body_refs);
            }
        }
    }
    // Every string a request body can carry, wherever its schema lives.
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        refine_domain_types(schemas);
        refine_fields(schemas);
        let mut seen = std::collections::BTreeSet::new();
        while let Some(name) = body_refs.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(schema) = schemas.get_mut(&name) {
                bound_strings(schema, &mut body_refs);
            }
        }
    }
}

/// The control and bidirectional formatting characters, all of them (names refuse even line
/// feeds and tabs).
const CONTROL_CLASS: &str =
    r"\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069";

/// White space a request string may hold (white space but the control characters other than
/// tab and line feed); trimmed away at the ends of labels.
const SPACE: &str = r"[^\S\u000b-\u000d\u001c-\u001f\u0085]";

/// The domain's string types, with the rules their parsers apply (in their canonical form: a
/// pattern never looser than the parser, so that what the document allows the server takes).
fn refine_domain_types(schemas: &mut Map<String, Value>) {
    let states: Vec<String> = switchboard_domain::StateCode::all()
        .map(|s| s.as_str().to_owned())
        .collect();
    let rules = [
        (
            "Name",
            json!({
                "minLength": 1,
                "maxLength": switchboard_domain::Name::MAX_CHARS,
                "pattern": format!("^[^{CONTROL_CLASS}]*[^\\s{CONTROL_CLASS}][^{CONTROL_CLASS}]*$"),
            }),
        ),
        (
            "BadgeNumber",
            json!({ "minLength": 1, "maxLength": 20, "pattern": "^[A-Za-z0-9-]{1,20}$" }),
        ),
        (
            "Username",
            json!({ "minLength": 3, "maxLength": 32, "pattern": "^[a-z][a-z0-9._-]{2,31}$" }),
        ),
        (
            "E164",
            json!({ "minLength": 8, "maxLength": 16, "pattern": "^\\+[1-9][0-9]{6,14}$" }),
        ),
        (
            "Ori",
            json!({
                "minLength": 9,
                "maxLength": 9,
                "pattern": format!("^({})[A-Z0-9]{{7}}$", states.join("|")),
            }),
        ),
        ("StateCode", json!({ "enum": states })),
        (
            "ANumber",
            json!({ "pattern": "^A?(?=[0-9]*[1-9])[0-9]{8,9}$" }),
        ),
    ];
    for (name, keywords) in rules {
        if let (Some(Value::Object(schema)), Value::Object(add)) = (schemas.get_mut(name), keywords)
        {
            schema.extend(add);
        }
    }
}

/// Request fields whose handlers refuse more than the general bound (every control character,
/// a blank value, a shorter length), so the document does not allow what they refuse.
fn refine_fields(schemas: &mut Map<String, Value>) {
    let no_control = format!("^[^{CONTROL_CLASS}]*$");
    // 1 to 60 characters once trimmed (white space at the ends is dropped, so the length is
    // in the pattern rather than in `maxLength`).
    let short_label = format!("^{SPACE}*[^\\s{CONTROL_CLASS}][^{CONTROL_CLASS}]{{0,59}}{SPACE}*$");
    // Line feeds allowed, every other control character refused.
    let lines = CONTROL_CLASS.replacen(r"\u0000-\u001f", r"\u0000-\u0009\u000b-\u001f", 1);
    let lines = format!("^[^{lines}]*$");
    let rules = [
        (
            "Mark",
            "record",
            json!({ "maxLength": 64, "pattern": "^[!-~]{1,64}$" }),
        ),
        (
            "Mark",
            "reason",
            json!({ "maxLength": 500, "pattern": no_control }),
        ),
        (
            "NewKey",
            "label",
            json!({ "maxLength": MAX_TEXT_CHARS, "pattern": short_label }),
        ),
        (
            "NewFeedKey",
            "name",
            json!({ "maxLength": MAX_TEXT_CHARS, "pattern": short_label }),
        ),
        (
            "NewDetermination",
            "reason",
            json!({ "maxLength": 2000, "pattern": lines }),
        ),
        (
            "NewDetermination",
            "basis",
            json!({ "maxLength": 500, "pattern": lines }),
        ),
    ];
    for (schema, field, keywords) in rules {
        if let (Some(Value::Object(property)), Value::Object(add)) = (
            schemas
                .get_mut(schema)
                .and_then(|s| s.get_mut("properties"))
                .and_then(|p| p.get_mut(field)),
            keywords,
        ) {
            property.extend(add);
        }
    }
}

/// Query parameters whose handlers refuse every control character (searches and the audit
/// log's filters).
const NO_CONTROL_PARAMETERS: [&str; 4] = ["q", "actor", "subject", "action"];

fn complete_operation(method: &str, path: &str, op: &mut Value, body_refs: &mut Vec<String>) {
    let auth = auth_of(method, path);
    op["security"] = match auth {
        Auth::None => json!([]),
        Auth::Session { changes: false } => json!([{ "session": [] }]),
        Auth::Session { changes: true } => json!([{ "session": [], "csrf": [] }]),
        Auth::PartnerKey => json!([{ "partner_key": [] }]),
        Auth::FeedKey => json!([{ "feed_key": [] }]),
    };
    let has_body = op.get("requestBody").is_some();
    if let Some(body) = op.get_mut("requestBody") {
        bound_strings(body, body_refs);
    }
    let has_params = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in params {
            let strict = p
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| NO_CONTROL_PARAMETERS.contains(&n));
            if strict && let Some(schema) = p.get_mut("schema") {
                schema["pattern"] = json!(format!("^[^{CONTROL_CLASS}]*$"));
            }
            if let Some(schema) = p.get_mut("schema") {
                bound_strings(schema, body_refs);
            }
        }
    }
    let changes = method != "get" && method != "head";
    let keyed = matches!(auth, Auth::PartnerKey | Auth::FeedKey);
    let mut answers: Vec<(&str, &str)> = Vec::new();
    if has_body || has_params {
        answers.push((
            "400",
            "The request is malformed or a field is invalid (`field` names it).",
        ));
    }
    if auth != Auth::None || path == "/session" {
        answers.push(("401", "No valid session (or key, or credentials)."));
    }
    if auth != Auth::None {
        answers.push((
            "403",
            "The role (or key) does not allow this, or the CSRF token is missing.",
        ));
    }
    if path.contains('{') || keyed || has_body {
        answers.push((
            "404",
            "No such resource, or one the request names does not exist (or this caller may not see it).",
        ));
    }
    if changes {
        answers.push((
            "409",
            "The resource changed meanwhile (`version`), already exists, or is in a state that does not allow this.",
        ));
    }
    if has_body {
        answers.push((
            "413",
            "The body is larger than the server takes (64 KiB; record batches 4 MiB).",
        ));
        answers.push(("415", "The body is not `application/json`."));
    }
    answers.push((
        "429",
        "Too many requests from this address, session, key or source of logons; `Retry-After` says when to try again.",
    ));
    answers.push((
        "503",
        "The server is saturated or a part it needs (database, audit writer, record index, call distributor) is unavailable; `Retry-After` when known.",
    ));
    let responses = op
        .as_object_mut()
        .expect("an operation is an object")
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses is an object");
    for (status, description) in answers {
        responses
            .entry(status)
            .or_insert_with(|| error_response(description));
    }
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {
            "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } }
        }
    })
}

/// Puts the request bounds on every string of `schema` (and notes the components it refers
/// to, to bound them too): at most [`MAX_TEXT_CHARS`] characters, none of the refused ones.
/// Strings of a declared format (dates, ids) and enumerations are left as they are.
fn bound_strings(schema: &mut Value, refs: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(r) = map.get("$ref").and_then(Value::as_str)
                && let Some(name) = r.strip_prefix("#/components/schemas/")
            {
                refs.push(name.to_owned());
            }
            // utoipa writes unsigned 32-bit integers as `int32` from 0, which a client would
            // read as at most 2^31 - 1.
            if map.get("format").and_then(Value::as_str) == Some("int32")
                && map.get("minimum").and_then(Value::as_f64) == Some(0.0)
                && !map.contains_key("maximum")
            {
                map.insert("format".to_owned(), json!("int64"));
                map.insert("maximum".to_owned(), json!(u32::MAX));
            }
            if is_string(map) && !map.contains_key("format") && !map.contains_key("enum") {
                let most = map
                    .get("maxLength")
                    .and_then(Value::as_u64)
                    .map_or(MAX_TEXT_CHARS as u64, |m| m.min(MAX_TEXT_CHARS as u64));
                map.insert("maxLength".to_owned(), json!(most));
                map.entry("pattern").or_insert_with(|| json!(TEXT_PATTERN));
            }
            for (_, v) in map.iter_mut() {
                bound_strings(v, refs);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| bound_strings(v, refs)),
        _ => {}
    }
}

fn is_string(map: &Map<String, Value>) -> bool {
    match map.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_names_its_security_and_its_errors() {
        let mut doc = serde_json::to_value(crate::openapi_base()).unwrap();
        complete(&mut doc);
        let paths = doc["paths"].as_object().unwrap();
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let security = op["security"].as_array().unwrap();
                let responses = op["responses"].as_object().unwrap();
                for status in ["429", "503"] {
                    assert!(responses.contains_key(status), "{method} {path} {status}");
                }
                if path == "/openapi.json" || (path == "/session" && method == "post") {
                    assert!(security.is_empty(), "{method} {path}");
                } else {
                    assert_eq!(security.len(), 1, "{method} {path}");
                    assert!(responses.contains_key("401"), "{method} {path}");
                }
                if path.contains('{') {
                    assert!(responses.contains_key("404"), "{method} {path}");
                }
            }
        }
        assert_eq!(
            doc["paths"]["/agencies"]["post"]["security"],
            json!([{ "session": [], "csrf": [] }])
        );
        assert_eq!(
            doc["paths"]["/partner/inquiries"]["post"]["security"],
            json!([{ "partner_key": [] }])
        );
        assert_eq!(
            doc["paths"]["/records"]["post"]["security"],
            json!([{ "feed_key": [] }])
        );
    }

    #[test]
    fn request_strings_carry_the_bounds_the_server_enforces() {
        let mut doc = serde_json::to_value(crate::openapi_base()).unwrap();
        complete(&mut doc);
        // A string of its own bound keeps it; one without gets the server's.
        let ani = &doc["components"]["schemas"]["NewAcdCall"]["properties"]["ani"];
        assert_eq!(ani["maxLength"], 128);
        assert_eq!(ani["pattern"], TEXT_PATTERN);
        // A field whose handler refuses more says so.
        let record = &doc["components"]["schemas"]["Mark"]["properties"]["record"];
        assert_eq!(record["maxLength"], 64);
        // A domain type carries its parser's rule.
        let ori = doc["components"]["schemas"]["Ori"]["pattern"]
            .as_str()
            .unwrap();
        assert!(ori.starts_with("^(") && ori.contains("|TX|"), "{ori}");
        // Each character class is exactly the server's rule: the general one lets line feeds
        // and tabs through, the strict one (names, labels, filters) nothing.
        let general = TEXT_PATTERN
            .strip_prefix("^[^")
            .and_then(|p| p.strip_suffix("]*$"))
            .unwrap();
        let general = class_ranges(general);
        let strict = class_ranges(CONTROL_CLASS);
        for c in (0..=0x3000u32).filter_map(char::from_u32) {
            let refused = switchboard_domain::records::is_control_or_bidi(c);
            let within =
                |ranges: &[(u32, u32)]| ranges.iter().any(|(a, b)| (*a..=*b).contains(&(c as u32)));
            assert_eq!(within(&strict), refused, "strict {:#x}", c as u32);
            let general_refused = refused && c != '\n' && c != '\t';
            assert_eq!(within(&general), general_refused, "general {:#x}", c as u32);
        }
    }

    /// The ranges of a class written as `\uXXXX` and `\uXXXX-\uXXXX`.
    fn class_ranges(class: &str) -> Vec<(u32, u32)> {
        let mut ranges = Vec::new();
        let mut parts = class.split("\\u").filter(|p| !p.is_empty());
        while let Some(text) = parts.next() {
            let from = u32::from_str_radix(text.trim_end_matches('-'), 16).unwrap();
            let to = if text.ends_with('-') {
                u32::from_str_radix(parts.next().unwrap(), 16).unwrap()
            } else {
                from
            };
            ranges.push((from, to));
        }
        ranges
    }
}
