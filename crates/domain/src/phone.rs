//! E.164 telephone numbers, the key that identifies a caller.

use crate::{ParseError, string_newtype};

/// A telephone number in E.164 form: `+`, a country code and the national number, 7 to 15
/// digits in all, the first not zero. Parsing accepts the separators people type
/// (spaces, dashes, dots, parentheses) and the `tel:` prefix of SIP URIs, and keeps only
/// `+` and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "+15125550123"))]
pub struct E164(String);

impl E164 {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let t = s.trim();
        let t = t.strip_prefix("tel:").unwrap_or(t);
        let Some(rest) = t.strip_prefix('+') else {
            return Err(ParseError::new(
                "phone number",
                "must be in E.164 form, starting with + and the country code (e.g. +15125550123)",
            ));
        };
        let mut out = String::with_capacity(16);
        out.push('+');
        for c in rest.chars() {
            match c {
                '0'..='9' => out.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                other => {
                    return Err(ParseError::new(
                        "phone number",
                        format!("may contain only digits after the +, found {other:?}"),
                    ));
                }
            }
        }
        let digits = out.len() - 1;
        if !(7..=15).contains(&digits) {
            return Err(ParseError::new(
                "phone number",
                format!("must have 7 to 15 digits, got {digits}"),
            ));
        }
        if out.as_bytes()[1] == b'0' {
            return Err(ParseError::new(
                "phone number",
                "a country code never starts with 0",
            ));
        }
        Ok(Self(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype!(E164);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cases() {
        let ok = [
            ("+15125550123", "+15125550123"),
            ("+1 (512) 555-0123", "+15125550123"),
            ("tel:+1.512.555.0123", "+15125550123"),
            ("  +52 55 5555 0100 ", "+525555550100"),
            ("+6834001", "+6834001"),
        ];
        for (input, want) in ok {
            assert_eq!(E164::parse(input).unwrap().as_str(), want, "{input:?}");
        }
        let bad = [
            ("5125550123", "starting with +"),
            ("+1512555012345678", "7 to 15"),
            ("+123456", "7 to 15"),
            ("+0125550123", "never starts with 0"),
            ("+1512ABC0123", "only digits"),
            ("", "starting with +"),
            ("+", "7 to 15"),
        ];
        for (input, reason) in bad {
            let e = E164::parse(input).unwrap_err();
            assert!(e.reason.contains(reason), "{input:?}: {e}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,30}") {
            let _ = E164::parse(&s);
        }

        #[test]
        fn canonical_is_fixed_point(d in "[1-9][0-9]{6,14}") {
            let p = E164::parse(&format!("+{d}")).unwrap();
            prop_assert_eq!(p.as_str(), format!("+{d}"));
            prop_assert_eq!(E164::parse(p.as_str()).unwrap(), p);
        }
    }
}
