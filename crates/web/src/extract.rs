//! Extractors that turn bad input into [`ApiError`]s naming the field, instead of axum's
//! plain-text rejections.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest request body accepted, in bytes. Registry records are small; anything bigger
/// is a mistake or an attack.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body, deserialised with the path of the offending field in errors.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json") || m.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "invalid_request",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "invalid_request",
                    format!("the body exceeds {MAX_BODY_BYTES} bytes"),
                )
            } else {
                ApiError::invalid("unreadable_body", "the request body could not be read")
            }
        })?;
        parse_checked_json(&bytes).map(ApiJson)
    }
}

/// The longest text any one JSON string of a request may hold (characters); each field's own
/// bound, where it has one, is tighter.
pub const MAX_TEXT_CHARS: usize = 4_000;

/// Like [`parse_json`], after checking every string of the body: at most [`MAX_TEXT_CHARS`]
/// characters, no control characters but line feeds and tabs, and no bidirectional formatting
/// characters (which make text display as something else on a reviewer's screen).
pub fn parse_checked_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::invalid("malformed_json", format!("the body is not valid JSON: {e}"))
    })?;
    whole_numbers(&mut value);
    check_text(&value, &mut String::new())?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = strip_position(&e.into_inner().to_string());
        if path == "." {
            ApiError::invalid("invalid_body", message)
        } else {
            ApiError::invalid_field(path, message)
        }
    })
}

/// Writes every number with no fractional part (`5.0`, `1e3`) as the integer it is: JSON and
/// JSON Schema make no difference between them, and the integer fields would refuse it.
fn whole_numbers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

fn check_text(v: &serde_json::Value, path: &mut String) -> Result<(), ApiError> {
    use serde_json::Value;
    let here = |path: &str| {
        if path.is_empty() {
            ".".to_owned()
        } else {
            path.to_owned()
        }
    };
    match v {
        Value::String(s) => {
            if s.chars().count() > MAX_TEXT_CHARS {
                return Err(ApiError::invalid_field(
                    here(path),
                    format!("at most {MAX_TEXT_CHARS} characters"),
                ));
            }
            if s.chars().any(|c| {
                c != '\n' && c != '\t' && switchboard_domain::records::is_control_or_bidi(c)
            }) {
                return Err(ApiError::invalid_field(
                    here(path),
                    "control and bidirectional formatting characters are not accepted",
                ));
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_text(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (k, item) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                check_text(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Deserialises JSON, reporting the path of the field that failed.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::invalid(
                "malformed_json",
                format!("the body is not valid JSON: {inner}"),
            );
        }
        let message = strip_position(&inner.to_string());
        if path == "." {
            ApiError::invalid("invalid_body", message)
        } else {
            ApiError::invalid_field(path, message)
        }
    })
}

/// serde_json appends " at line L column C"; the field path says more to a client.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// Query parameters, deserialised with the offending parameter named in errors.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(q));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().to_string();
                if path == "." {
                    ApiError::invalid("invalid_query", message)
                } else {
                    ApiError::invalid_field(path, message)
                }
            })
    }
}

fn form_urlencoded_parse(q: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(q.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Count {
        n: u32,
        #[serde(default)]
        items: Vec<i64>,
    }

    #[test]
    fn whole_numbers_written_with_a_fraction_are_the_integers_they_are() {
        let c: Count = parse_checked_json(br#"{"n": 5.0, "items": [1e3, -2.0]}"#).unwrap();
        assert_eq!((c.n, c.items), (5, vec![1000, -2]));
        let e = parse_checked_json::<Count>(br#"{"n": 5.5}"#).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("n"));
        let e = parse_checked_json::<Count>(br#"{"n": 1e300}"#).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("n"));
    }
}
