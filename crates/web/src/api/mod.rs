//! The JSON API under `/api/v1`.

pub mod acd;
pub mod callers;
pub mod calls;
pub mod dispositions;
pub mod lookups;
pub mod registry;
pub mod staffing;

use serde::{Deserialize, Deserializer, Serialize};
use switchboard_store::{Page, PageRequest};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// One page of a listing. Pass `next` back as `after` to get the following page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// Cursor for the next page; absent on the last page.
    pub next: Option<Uuid>,
}

impl<T> Paged<T> {
    pub fn from_page<U>(p: Page<U>, f: impl FnMut(U) -> T) -> Self {
        Self {
            items: p.items.into_iter().map(f).collect(),
            next: p.next,
        }
    }
}

/// Checks a `limit` given by a client: absent means the default, out of range is an error
/// rather than silently clamped, so a client never misreads a short page.
pub fn page_request(limit: Option<u32>, after: Option<Uuid>) -> ApiResult<PageRequest> {
    let limit = limit.unwrap_or(PageRequest::DEFAULT_LIMIT);
    if !(1..=PageRequest::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!(
                "must be between 1 and {}, got {limit}",
                PageRequest::MAX_LIMIT
            ),
        ));
    }
    Ok(PageRequest { limit, after })
}

/// The longest free-text search accepted.
pub const MAX_SEARCH_CHARS: usize = 100;

pub fn search_text(q: Option<String>) -> ApiResult<Option<String>> {
    match q.map(|s| s.trim().to_owned()) {
        Some(s) if s.chars().count() > MAX_SEARCH_CHARS => Err(ApiError::invalid_field(
            "q",
            format!("must be at most {MAX_SEARCH_CHARS} characters"),
        )),
        Some(s) if s.chars().any(char::is_control) => Err(ApiError::invalid_field(
            "q",
            "must not contain control characters",
        )),
        Some(s) if s.is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// Parses a path id, answering 400 (not 404) for something that is not an id at all.
pub fn path_id<T: std::str::FromStr>(raw: &str) -> ApiResult<T> {
    raw.parse()
        .map_err(|_| ApiError::invalid_field("id", format!("{raw:?} is not a valid id (a UUID)")))
}

/// For PATCH bodies: tells a field that is absent (`None`) from one set to null (`Some(None)`).
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A PATCH may carry the version the client read; a mismatch is refused before any write.
pub fn check_version(given: Option<i64>, current: i64, entity: &str) -> ApiResult<()> {
    match given {
        Some(v) if v != current => Err(ApiError::conflict(
            "version_conflict",
            format!("the {entity} is at version {current}, not {v}; fetch it again and retry"),
        )),
        _ => Ok(()),
    }
}
