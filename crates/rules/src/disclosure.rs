//! What a caller may be told.
//!
//! The response to a field caller is built from fixed texts for each disposition kind, never
//! from record fields: no address, facility or whereabouts of anyone can reach a caller through
//! it, and a protected (8 U.S.C. 1367) case's existence cannot either. A matter touching a
//! minor is answered only with the referral.

use serde::{Deserialize, Serialize};

use crate::disposition::Kind;

/// What the caller is told, exactly as recorded as the disclosure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerResponse {
    pub kind: Kind,
    pub text: String,
}

pub fn caller_response(kind: Kind) -> CallerResponse {
    let text = match kind {
        Kind::NoRecordFound => "No record was found for the subject as described.",
        Kind::StatusInformationOnly => {
            "A record was found. This is status information only; it does not confirm any enforcement action."
        }
        Kind::UnableToConfirm => {
            "The center is unable to confirm. Do not act on this inquiry as a confirmation."
        }
        Kind::ConfirmEnforcementAction => {
            "Confirmed: the subject is identified and enforcement action is confirmed within your agreement."
        }
        Kind::Decline => "The center declines this request.",
        Kind::ReferLegalReview => {
            "The matter has been referred for legal review. The center will call back; take no action on this inquiry meanwhile."
        }
        Kind::ReferCitizenshipInvestigation => {
            "The matter has been referred for review. Take no enforcement action on this inquiry."
        }
        Kind::ReferJuvenileLiaison => {
            "The matter has been referred to the juvenile-liaison desk, which will contact you."
        }
        Kind::HitConfirmationRequested => {
            "The record belongs to another agency; its confirmation has been requested. The center will call back."
        }
    };
    CallerResponse {
        kind,
        text: text.to_owned(),
    }
}
