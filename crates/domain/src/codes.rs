//! Codes used by the records world: ORI, state codes, purpose codes, A-numbers.

use crate::{ParseError, string_newtype};

/// Two-letter codes of the US states, the District of Columbia and the territories, which is
/// also the set of prefixes an ORI may carry.
const STATE_CODES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY", "DC", "PR", "GU", "VI", "AS", "MP",
];

/// A US state, DC or territory, as its two-letter postal code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "TX"))]
pub struct StateCode([u8; 2]);

impl StateCode {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let up = s.trim().to_ascii_uppercase();
        match STATE_CODES.iter().position(|c| *c == up) {
            Some(_) => {
                let b = up.as_bytes();
                Ok(Self([b[0], b[1]]))
            }
            None => Err(ParseError::new(
                "state code",
                format!("{s:?} is not a US state, DC or territory postal code"),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters from STATE_CODES are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// Every valid code, for generators and pickers.
    pub fn all() -> impl Iterator<Item = StateCode> {
        STATE_CODES.iter().map(|c| {
            let b = c.as_bytes();
            StateCode([b[0], b[1]])
        })
    }
}
string_newtype!(StateCode);

/// An Originating Agency Identifier: nine characters, letters and digits, the first two being
/// the state (or DC/territory) code of the agency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "TX2270000"))]
pub struct Ori(String);

impl Ori {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let t = s.trim();
        let n = t.chars().count();
        if n != 9 {
            return Err(ParseError::new(
                "ORI",
                format!("must be exactly 9 letters or digits, got {n} characters"),
            ));
        }
        if let Some(c) = t.chars().find(|c| !c.is_ascii_alphanumeric()) {
            return Err(ParseError::new(
                "ORI",
                format!("may contain only letters and digits, found {c:?}"),
            ));
        }
        let up = t.to_ascii_uppercase();
        StateCode::parse(&up[..2]).map_err(|_| {
            ParseError::new(
                "ORI",
                format!(
                    "must begin with a state, DC or territory code, {:?} is not one",
                    &up[..2]
                ),
            )
        })?;
        Ok(Self(up))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The state (or DC/territory) the agency belongs to, from the ORI's prefix.
    pub fn state(&self) -> StateCode {
        // Checked in `parse`.
        StateCode::parse(&self.0[..2]).expect("ORI prefix was validated at parse")
    }
}
string_newtype!(Ori);

/// The purpose of a records inquiry, as in the Nlets IAQ `PUR/` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PurposeCode {
    /// `C`: criminal justice purposes (investigation, arrest, detention, booking).
    CriminalJustice,
    /// `F`: a firearms-related check (for example a permit or purchase background check).
    Firearms,
}

impl PurposeCode {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s.trim() {
            "C" | "c" => Ok(Self::CriminalJustice),
            "F" | "f" => Ok(Self::Firearms),
            other => Err(ParseError::new(
                "purpose code",
                format!(
                    "{other:?} is not a purpose code; use C (criminal justice) or F (firearms)"
                ),
            )),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::CriminalJustice => "C",
            Self::Firearms => "F",
        }
    }
}
string_newtype!(PurposeCode);
crate::string_enum_schema!(PurposeCode, ["C", "F"]);

/// An alien registration number: 8 or 9 digits, held in its canonical 9-digit form (8-digit
/// numbers are the same number with a leading zero). Written `A012345678`; parsing accepts the
/// common ways people write it (`A-012-345-678`, `A# 12345678`, `012 345 678`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "A012345678"))]
pub struct ANumber(String);

impl ANumber {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let t = s.trim();
        let body = t
            .strip_prefix(['A', 'a'])
            .map(|r| r.trim_start_matches(['#', '-', ' ']))
            .unwrap_or(t);
        let mut digits = String::with_capacity(9);
        for c in body.chars() {
            match c {
                '0'..='9' => digits.push(c),
                '-' | ' ' => {}
                other => {
                    return Err(ParseError::new(
                        "A-number",
                        format!("may contain only digits after the A, found {other:?}"),
                    ));
                }
            }
        }
        match digits.len() {
            8 => digits.insert(0, '0'),
            9 => {}
            n => {
                return Err(ParseError::new(
                    "A-number",
                    format!("must have 8 or 9 digits, got {n}"),
                ));
            }
        }
        if digits.bytes().all(|b| b == b'0') {
            return Err(ParseError::new("A-number", "cannot be all zeros"));
        }
        digits.insert(0, 'A');
        Ok(Self(digits))
    }

    /// The canonical form, `A` followed by nine digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The nine digits without the `A`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}
string_newtype!(ANumber);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ori_cases() {
        let ok = [
            ("TX2270000", "TX2270000"),
            ("tx2270000", "TX2270000"),
            (" DCICE0100 ", "DCICE0100"),
        ];
        for (input, want) in ok {
            assert_eq!(Ori::parse(input).unwrap().as_str(), want, "{input:?}");
        }
        let bad = [
            ("TX227000", "exactly 9"),
            ("TX22700000", "exactly 9"),
            ("", "exactly 9"),
            ("TX227-000", "only letters and digits"),
            ("ZZ2270000", "state, DC or territory"),
            ("122270000", "state, DC or territory"),
            ("TX227000é", "only letters and digits"),
        ];
        for (input, reason) in bad {
            let e = Ori::parse(input).unwrap_err();
            assert!(e.reason.contains(reason), "{input:?}: {e}");
            assert_eq!(e.what, "ORI");
        }
        assert_eq!(Ori::parse("va1234567").unwrap().state().as_str(), "VA");
    }

    #[test]
    fn state_codes() {
        assert_eq!(StateCode::parse("pr").unwrap().as_str(), "PR");
        assert!(StateCode::parse("XX").is_err());
        assert!(StateCode::parse("T").is_err());
        assert_eq!(StateCode::all().count(), 56);
    }

    #[test]
    fn purpose_codes() {
        assert_eq!(
            PurposeCode::parse("C").unwrap(),
            PurposeCode::CriminalJustice
        );
        assert_eq!(PurposeCode::parse("f").unwrap(), PurposeCode::Firearms);
        for bad in ["", "X", "CF", "criminal"] {
            assert!(PurposeCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_number_cases() {
        let ok = [
            ("A012345678", "A012345678"),
            ("12345678", "A012345678"),
            ("a-012-345-678", "A012345678"),
            ("A# 98765432", "A098765432"),
            ("200 300 400", "A200300400"),
        ];
        for (input, want) in ok {
            assert_eq!(ANumber::parse(input).unwrap().as_str(), want, "{input:?}");
        }
        for bad in [
            "1234567",
            "1234567890",
            "A12345X78",
            "000000000",
            "",
            "B12345678",
        ] {
            assert!(ANumber::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(ANumber::parse("A012345678").unwrap().digits(), "012345678");
    }

    #[test]
    fn serde_round_trip_and_errors() {
        let o: Ori = serde_json::from_str("\"ca0370000\"").unwrap();
        assert_eq!(serde_json::to_string(&o).unwrap(), "\"CA0370000\"");
        let e = serde_json::from_str::<Ori>("\"CA03\"").unwrap_err();
        assert!(e.to_string().contains("invalid ORI"), "{e}");
    }

    proptest! {
        #[test]
        fn ori_parse_is_idempotent(s in "[A-Za-z0-9]{9}") {
            if let Ok(o) = Ori::parse(&s) {
                prop_assert_eq!(Ori::parse(o.as_str()).unwrap(), o);
            }
        }

        #[test]
        fn ori_never_panics(s in "\\PC{0,20}") {
            let _ = Ori::parse(&s);
        }

        #[test]
        fn a_number_canonical_round_trip(n in 1u32..999_999_999) {
            let nine = format!("{n:09}");
            let a = ANumber::parse(&nine).unwrap();
            prop_assert_eq!(a.digits(), nine.as_str());
            prop_assert_eq!(ANumber::parse(a.as_str()).unwrap(), a);
        }

        #[test]
        fn a_number_never_panics(s in "\\PC{0,20}") {
            let _ = ANumber::parse(&s);
        }
    }
}
