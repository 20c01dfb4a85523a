//! Passwords: Argon2id hashes in PHC strings, and the policy of NIST SP 800-63B: at least 8
//! characters, up to 128 (more than the 64 it asks to allow), any characters, checked against
//! a list of common passwords and the username, with no composition rules.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

/// Passwords people choose most often (and the ones attackers try first), lower case.
const COMMON: &str = include_str!("common-passwords.txt");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("a password needs at least {MIN_CHARS} characters")]
    TooShort,
    #[error("a password may have at most {MAX_CHARS} characters")]
    TooLong,
    #[error("this password is on the list of commonly used passwords; choose another")]
    Common,
    #[error("a password must not contain the username")]
    ContainsUsername,
}

fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    // "Password1!" is "password" with the usual decorations: strip trailing digits and
    // punctuation before looking it up too.
    let stem = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    COMMON
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|c| c == lower || (stem.chars().count() >= 4 && c == stem))
}

/// Whether `password` may be used by `username`.
pub fn check(password: &str, username: &str) -> Result<(), PasswordProblem> {
    let n = password.chars().count();
    if n < MIN_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    if n > MAX_CHARS {
        return Err(PasswordProblem::TooLong);
    }
    if is_common(password) {
        return Err(PasswordProblem::Common);
    }
    if username.chars().count() >= 3 && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err(PasswordProblem::ContainsUsername);
    }
    Ok(())
}

/// The Argon2id hash (default parameters: 19 MiB, 2 passes, 1 lane) as a PHC string.
pub fn hash(password: &str, salt: &[u8; 16]) -> String {
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), salt)
        .expect("a 16-byte salt and default parameters always hash")
        .to_string()
}

/// Whether `password` matches the stored PHC string (an unreadable one matches nothing).
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_table() {
        let cases = [
            ("short1!", Err(PasswordProblem::TooShort)),
            ("12345678", Err(PasswordProblem::Common)),
            ("password", Err(PasswordProblem::Common)),
            ("Password1!", Err(PasswordProblem::Common)),
            ("QWERTY123", Err(PasswordProblem::Common)),
            ("iloveyou2026", Err(PasswordProblem::Common)),
            ("ct.alvarez-winter", Err(PasswordProblem::ContainsUsername)),
            ("correct horse battery staple", Ok(())),
            ("tamale-lighthouse-42", Ok(())),
            // Any characters count, by character not byte.
            ("ñandú-árbol", Ok(())),
        ];
        for (pw, want) in cases {
            assert_eq!(check(pw, "ct.alvarez"), want, "{pw}");
        }
        assert_eq!(check(&"x".repeat(128), "u"), Ok(()));
        assert_eq!(check(&"x".repeat(129), "u"), Err(PasswordProblem::TooLong));
        assert_eq!(check("ééééééé", "u"), Err(PasswordProblem::TooShort));
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("tamale-lighthouse-42", &[1; 16]);
        let b = hash("tamale-lighthouse-42", &[2; 16]);
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "different salts give different hashes");
        assert!(verify("tamale-lighthouse-42", &a));
        assert!(verify("tamale-lighthouse-42", &b));
        assert!(!verify("tamale-lighthouse-43", &a));
        assert!(!verify("anything", "not a phc string"));
    }
}
