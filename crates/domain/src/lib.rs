//! Switchboard's shared vocabulary.
//!
//! This crate owns the identifiers, the parsed newtypes that make invalid values
//! unrepresentable (`Ori`, `E164`, `ANumber`, `PurposeCode`, ...), the records of the partner
//! registry (agencies, 287(g) agreements, officers), the center's users, calls and inquiries,
//! and the pure decision of whether a caller is authorised.
//!
//! It must never do I/O: no database, no network, no clock, no async runtime. Anything that
//! depends on "now" takes the date or instant as an argument, so every decision is
//! reproducible in a test.

#![forbid(unsafe_code)]

pub mod caller;
pub mod center;
pub mod codes;
pub mod ids;
pub mod phone;
pub mod records;
pub mod registry;
pub mod text;

pub use caller::{CallerAssessment, CallerProblem, assess_caller};
pub use center::{
    Call, CallState, Inquiry, NewCall, NewInquiry, NewUser, Role, Sex, Subject, User,
};
pub use codes::{ANumber, Ori, PurposeCode, StateCode};
pub use ids::{AgencyId, AgreementId, CallId, InquiryId, OfficerId, UserId};
pub use phone::E164;
pub use registry::{
    Agency, AgencyKind, Agreement, AgreementModel, AgreementStatus, CertificationStatus, NewAgency,
    NewAgreement, NewOfficer, Officer,
};
pub use text::{BadgeNumber, Name, Username};

/// `t` at the precision every store keeps (microseconds), so a record reads back exactly as it
/// was written whichever database holds it.
pub fn stored_precision(t: time::OffsetDateTime) -> time::OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .expect("a truncated nanosecond is in range")
}

/// The earliest and latest days any record may carry. Real registry dates fall well inside;
/// anything outside is a typo (or an attempt to confuse date comparisons).
pub const EARLIEST_DAY: time::Date = time::macros::date!(1900 - 01 - 01);
pub const LATEST_DAY: time::Date = time::macros::date!(2200 - 12 - 31);

/// Checks that a day lies within [`EARLIEST_DAY`]..=[`LATEST_DAY`].
pub fn check_day(field: &'static str, day: time::Date) -> Result<(), registry::Invalid> {
    if (EARLIEST_DAY..=LATEST_DAY).contains(&day) {
        Ok(())
    } else {
        Err(registry::Invalid::new(
            field,
            format!("{day} is outside {EARLIEST_DAY} to {LATEST_DAY}"),
        ))
    }
}

/// Folds text for case- and accent-insensitive search, identically for every backend:
/// transliterated to ASCII (`García` → `garcia`, `Łódź` → `lodz`) and lower-cased.
pub fn fold_for_search(s: &str) -> String {
    deunicode::deunicode(s).to_ascii_lowercase()
}

/// Why a value given at a boundary could not become one of our types.
///
/// `what` names the type ("ORI", "phone number"); `reason` says what was wrong, in words a
/// call-taker or a partner's developer can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {reason}")]
pub struct ParseError {
    pub what: &'static str,
    pub reason: String,
}

impl ParseError {
    pub(crate) fn new(what: &'static str, reason: impl Into<String>) -> Self {
        Self {
            what,
            reason: reason.into(),
        }
    }
}

/// Implements `Display`, `FromStr`, `TryFrom<String>` and string serde for a newtype whose
/// `parse` turns a `&str` into `Result<Self, ParseError>` and whose `as_str` gives it back.
macro_rules! string_newtype {
    ($ty:ty) => {
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl ::std::str::FromStr for $ty {
            type Err = $crate::ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $ty {
            type Error = $crate::ParseError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }
        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.as_str().to_owned()
            }
        }
        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                Self::parse(&s).map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_newtype;

/// Implements `as_str`, `Display`, `FromStr` and string serde for a fieldless enum from a
/// table of `Variant => "wire_name"`. The wire names are what the database and the API store.
macro_rules! wire_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $wire:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The stable name used in storage and on the wire.
            pub const fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $wire),+ }
            }

            /// Parses a wire name.
            pub fn parse(s: &str) -> Result<Self, $crate::ParseError> {
                match s { $($wire => Ok($ty::$variant),)+
                    other => Err($crate::ParseError::new($what, format!(
                        "{other:?} is not one of: {}",
                        [$($wire),+].join(", ")
                    ))),
                }
            }
        }
        $crate::string_newtype!($ty);
        $crate::string_enum_schema!($ty, [$($wire),+]);
    };
}
pub(crate) use wire_enum;

/// Describes a type serialised as one of a fixed set of strings to OpenAPI.
macro_rules! string_enum_schema {
    ($ty:ty, [$($wire:literal),+]) => {
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(
                    utoipa::openapi::schema::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String)
                        .enum_values(Some([$($wire),+]))
                        .build(),
                ))
            }
        }
        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $ty {}
    };
}
pub(crate) use string_enum_schema;
