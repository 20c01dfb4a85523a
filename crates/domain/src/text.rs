//! Short free-text values with limits: names, badge numbers, usernames.

use crate::{ParseError, string_newtype};

/// A human-readable name (of a person or an agency): trimmed, 1 to 200 characters, no control
/// characters. Letters of every script are welcome; the matching engine normalises later.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "Juan Carlos"))]
pub struct Name(String);

impl Name {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(ParseError::new("name", "must not be empty"));
        }
        let n = t.chars().count();
        if n > Self::MAX_CHARS {
            return Err(ParseError::new(
                "name",
                format!("must be at most {} characters, got {n}", Self::MAX_CHARS),
            ));
        }
        if t.chars().any(char::is_control) {
            return Err(ParseError::new(
                "name",
                "must not contain control characters",
            ));
        }
        Ok(Self(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype!(Name);

/// An officer's badge or shield number as the agency issues it: 1 to 20 letters, digits or
/// dashes, kept upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "D-4471"))]
pub struct BadgeNumber(String);

impl BadgeNumber {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let t = s.trim();
        let n = t.chars().count();
        if !(1..=20).contains(&n) {
            return Err(ParseError::new(
                "badge number",
                format!("must be 1 to 20 characters, got {n}"),
            ));
        }
        if let Some(c) = t
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(ParseError::new(
                "badge number",
                format!("may contain only letters, digits and dashes, found {c:?}"),
            ));
        }
        Ok(Self(t.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype!(BadgeNumber);

/// A center user's login name: 3 to 32 characters of lower-case letters, digits, `.`, `_`, `-`,
/// starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "jdoe"))]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let t = s.trim().to_ascii_lowercase();
        let n = t.chars().count();
        if !(3..=32).contains(&n) {
            return Err(ParseError::new(
                "username",
                format!("must be 3 to 32 characters, got {n}"),
            ));
        }
        if !t.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(ParseError::new("username", "must start with a letter"));
        }
        if let Some(c) = t.chars().find(|c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        }) {
            return Err(ParseError::new(
                "username",
                format!("may contain only a-z, 0-9, '.', '_' and '-', found {c:?}"),
            ));
        }
        Ok(Self(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype!(Username);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            Name::parse("  María José  ").unwrap().as_str(),
            "María José"
        );
        assert_eq!(Name::parse("李 小龙").unwrap().as_str(), "李 小龙");
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse("a\u{0}b").is_err());
        assert!(Name::parse(&"x".repeat(201)).is_err());
        assert!(Name::parse(&"é".repeat(200)).is_ok());
    }

    #[test]
    fn badges() {
        assert_eq!(BadgeNumber::parse("d-4471").unwrap().as_str(), "D-4471");
        assert!(BadgeNumber::parse("").is_err());
        assert!(BadgeNumber::parse("12 34").is_err());
        assert!(BadgeNumber::parse(&"1".repeat(21)).is_err());
    }

    #[test]
    fn usernames() {
        assert_eq!(Username::parse("J.Doe").unwrap().as_str(), "j.doe");
        for bad in ["ab", "1abc", "a b c", "jdoe!", &"a".repeat(33)] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }
}
