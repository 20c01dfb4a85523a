//! Second factors: RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30-second steps, one step of clock
//! drift either way), as authenticator apps expect. A code is accepted at most once: the step
//! it matched must be later than the last step accepted for the account (RFC 6238 §5.2).

use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Secret length in bytes (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpProblem {
    #[error("the one-time code is wrong or has expired")]
    Wrong,
    #[error("this one-time code was already used; wait for the next one")]
    Replayed,
    #[error("the stored second-factor secret is unreadable")]
    BadSecret,
}

fn totp(secret_base32: &str, account: Option<&str>) -> Result<Totp, TotpProblem> {
    let secret = Secret::try_from_base32(secret_base32).map_err(|_| TotpProblem::BadSecret)?;
    let mut b = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret);
    if let Some(a) = account {
        b = b
            .with_account_name(a.replace(':', "."))
            .with_issuer(Some("Switchboard"));
    }
    b.build().map_err(|_| TotpProblem::BadSecret)
}

/// A new secret from random bytes, in Base32 (what authenticator apps take).
pub fn secret_from_bytes(bytes: [u8; SECRET_BYTES]) -> String {
    Secret::from(bytes).to_base32()
}

/// The code an authenticator shows at `unix_secs`.
pub fn code_at(secret_base32: &str, unix_secs: u64) -> Result<String, TotpProblem> {
    Ok(totp(secret_base32, None)?.generate(unix_secs).to_string())
}

/// Checks `code` at `unix_secs`; returns the time step it matched, which the caller stores
/// as the new `last_step`. A step at or before `last_step` is a replay.
pub fn check(
    secret_base32: &str,
    code: &str,
    unix_secs: u64,
    last_step: u64,
) -> Result<u64, TotpProblem> {
    let t = totp(secret_base32, None)?;
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpProblem::Wrong);
    }
    match t.check(code, unix_secs) {
        Some(step) if step > last_step => Ok(step),
        Some(_) => Err(TotpProblem::Replayed),
        None => Err(TotpProblem::Wrong),
    }
}

/// The `otpauth://` URI to enrol the secret in an authenticator app.
pub fn otpauth_uri(secret_base32: &str, account: &str) -> Result<String, TotpProblem> {
    totp(secret_base32, Some(account))?
        .to_url()
        .map_err(|_| TotpProblem::BadSecret)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1: the secret "12345678901234567890" and its 8-digit codes;
    /// the 6-digit codes are their last six digits.
    #[test]
    fn rfc_6238_vectors() {
        let secret = secret_from_bytes(*b"12345678901234567890");
        for (t, code) in [
            (59u64, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(&secret, t).unwrap(), code, "t = {t}");
        }
    }

    #[test]
    fn a_code_is_accepted_once_within_one_step_of_drift() {
        let secret = secret_from_bytes([7; SECRET_BYTES]);
        let t = 1_795_442_400;
        let code = code_at(&secret, t).unwrap();
        let step = check(&secret, &code, t, 0).unwrap();
        assert_eq!(step, t / 30);
        assert_eq!(
            check(&secret, &code, t + 5, step),
            Err(TotpProblem::Replayed)
        );
        // A code from the previous step is still accepted 30 s later (drift), not 60 s later.
        assert!(check(&secret, &code, t + 30, 0).is_ok());
        assert_eq!(check(&secret, &code, t + 90, 0), Err(TotpProblem::Wrong));
        assert_eq!(check(&secret, "12345", t, 0), Err(TotpProblem::Wrong));
        assert_eq!(check(&secret, "abcdef", t, 0), Err(TotpProblem::Wrong));
        assert_eq!(
            check("not base32!", &code, t, 0),
            Err(TotpProblem::BadSecret)
        );
    }

    #[test]
    fn enrolment_uri_names_the_account_and_issuer() {
        let secret = secret_from_bytes([1; SECRET_BYTES]);
        let uri = otpauth_uri(&secret, "ct.alvarez").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Switchboard:ct.alvarez?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    }
}
