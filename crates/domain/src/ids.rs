//! Typed identifiers. Each wraps a UUIDv7, so ids sort by creation time (which keyset paging
//! relies on) and can be minted by any node of a distributed deployment without coordination.

use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid))]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub const fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| crate::ParseError::new("id", format!("{s:?} is not a UUID")))
            }
        }
    };
}

id_type!(
    /// A law-enforcement agency in the partner registry.
    AgencyId
);
id_type!(
    /// A 287(g) agreement (memorandum of agreement) between an agency and the federal side.
    AgreementId
);
id_type!(
    /// A partner officer who may call the center.
    OfficerId
);
id_type!(
    /// A person who works at the center (call-taker, supervisor, ...).
    UserId
);
id_type!(
    /// One call into the center.
    CallId
);
id_type!(
    /// One inquiry about a subject, made on a call or sent ahead.
    InquiryId
);
