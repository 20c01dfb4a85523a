//! The Nlets immigration alien query (IAQ) as partner agencies send it, and the IAR-style
//! response text. Pure: no I/O, no clock (the day is passed in).
//!
//! A message is a header, `IAQ.<ORI>.AX.`, then fields `TAG/value` each ended by a period:
//!
//! ```text
//! IAQ.TX2270000.AX.
//! PUR/C.ATN/SGT J SMITH.PHN/5125550142.NAM/GARCIA LOPEZ,MARIA ELENA.DOB/19900412.SEX/F.
//! POB/MX.CUS/Y.OFF/5404.ARN/A012345678.
//! ```
//!
//! Required: `PUR` (purpose, C or F), `ATN` (the inquiring officer), `PHN` (their number),
//! `NAM` (`FAMILY,GIVEN NAMES`), `DOB` (`CCYYMMDD`), `SEX` (M, F, U), `POB` (two-letter
//! state or country code), `CUS` (in custody, Y or N), `OFF` (four-digit NCIC offense code).
//! Optional: `ARN` (A-number), `FBI`, `SID` (state id: state code and number), `OLN`
//! (operator's licence). A period ends a field only where the next field's tag follows (or the
//! message ends), so a value may hold a period (`ST. JOHN`). Lines may wrap between fields or
//! between words (a line break inside a value reads as a space).
//!
//! [`parse`] reports every problem at once, each naming its field and a stable code, so a
//! partner can fix a message in one go.

use serde::Serialize;
use switchboard_domain::{ANumber, E164, Name, Ori, PurposeCode, Sex, StateCode, Subject};
use time::Date;

/// The longest message accepted, in bytes.
pub const MAX_LEN: usize = 2_000;

/// A parsed inquiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iaq {
    /// The inquiring agency.
    pub ori: Ori,
    pub purpose: PurposeCode,
    /// The inquiring officer, as written (`ATN`).
    pub attention: String,
    /// The officer's number (`PHN`), which the call-taker's screen is found by.
    pub phone: E164,
    /// The subject: names, birth date, sex, birthplace, custody, offense, identifiers.
    pub subject: Subject,
    /// The operator's licence number (`OLN`), when given.
    pub licence: Option<String>,
}

/// One problem in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's tag (`DOB`), or `header` / `message` for the message as a whole.
    pub field: String,
    /// Stable: `message_too_long`, `bad_character`, `bad_header`, `bad_ori`,
    /// `bad_destination`, `not_terminated`, `malformed_field`, `unknown_field`,
    /// `duplicate_field`, `missing_field`, `empty_field`, `too_long`, `bad_code`, `bad_date`,
    /// `future_date`, `bad_phone`, `bad_a_number`, `bad_format`.
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    fn new(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The fields, required first.
const REQUIRED: [&str; 9] = [
    "PUR", "ATN", "PHN", "NAM", "DOB", "SEX", "POB", "CUS", "OFF",
];
const OPTIONAL: [&str; 4] = ["ARN", "FBI", "SID", "OLN"];

/// Parses an IAQ message received on `today` (birth dates after it are refused).
pub fn parse(text: &str, today: Date) -> Result<Iaq, Vec<FieldError>> {
    let mut errors = Vec::new();
    if text.len() > MAX_LEN {
        return Err(vec![FieldError::new(
            "message",
            "message_too_long",
            format!(
                "a message is at most {MAX_LEN} bytes, this one is {}",
                text.len()
            ),
        )]);
    }
    if let Some((i, c)) = text
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_graphic() || *c == ' ' || *c == '\r' || *c == '\n'))
    {
        return Err(vec![FieldError::new(
            "message",
            "bad_character",
            format!("only printable ASCII is allowed; found {c:?} at byte {i}"),
        )]);
    }
    let text = unwrap_lines(text);
    let text = text.trim();

    // The header.
    let mut parts = text.splitn(4, '.');
    let (kind, ori, dest, rest) = (
        parts.next().unwrap_or(""),
        parts.next(),
        parts.next(),
        parts.next(),
    );
    if !kind.eq_ignore_ascii_case("IAQ") {
        errors.push(FieldError::new(
            "header",
            "bad_header",
            format!("a message starts with IAQ.<ORI>.AX., not {:?}", clip(kind)),
        ));
        return Err(errors);
    }
    let ori = match ori.map(Ori::parse) {
        Some(Ok(o)) => Some(o),
        Some(Err(e)) => {
            errors.push(FieldError::new("header", "bad_ori", e.reason));
            None
        }
        None => {
            errors.push(FieldError::new(
                "header",
                "bad_header",
                "the header needs the ORI after IAQ.",
            ));
            None
        }
    };
    match dest {
        Some(d) if d.eq_ignore_ascii_case("AX") => {}
        Some(d) => errors.push(FieldError::new(
            "header",
            "bad_destination",
            format!("the destination is AX, not {:?}", clip(d)),
        )),
        None => errors.push(FieldError::new(
            "header",
            "bad_header",
            "the header ends with .AX. after the ORI",
        )),
    }
    let rest = rest.unwrap_or("").trim();
    let body = match rest.strip_suffix('.') {
        Some(b) => b,
        None => {
            if !rest.is_empty() {
                errors.push(FieldError::new(
                    "message",
                    "not_terminated",
                    "the last field must end with a period",
                ));
            }
            rest
        }
    };

    // The fields.
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for chunk in split_fields(body) {
        let chunk = chunk.trim();
        if chunk.is_empty() {
            continue;
        }
        let Some((tag, value)) = tag_of(chunk) else {
            errors.push(FieldError::new(
                "message",
                "malformed_field",
                format!(
                    "{:?} is not TAG/value (a three-letter tag, a slash, the value)",
                    clip(chunk)
                ),
            ));
            continue;
        };
        if !REQUIRED.contains(&tag) && !OPTIONAL.contains(&tag) {
            errors.push(FieldError::new(
                tag,
                "unknown_field",
                format!(
                    "{tag} is not an IAQ field (known: {}, {})",
                    REQUIRED.join(" "),
                    OPTIONAL.join(" ")
                ),
            ));
            continue;
        }
        if seen.iter().any(|(t, _)| *t == tag) {
            errors.push(FieldError::new(
                tag,
                "duplicate_field",
                format!("{tag} is given twice"),
            ));
            continue;
        }
        seen.push((tag, value.trim()));
    }
    for tag in REQUIRED {
        if !seen.iter().any(|(t, _)| *t == tag) {
            errors.push(FieldError::new(
                tag,
                "missing_field",
                format!("{tag} is required"),
            ));
        }
    }

    let mut fields = Fields::default();
    for (tag, value) in &seen {
        if value.is_empty() {
            errors.push(FieldError::new(
                tag,
                "empty_field",
                format!("{tag} has no value"),
            ));
            continue;
        }
        if let Err(e) = fields.read(tag, value, today) {
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let (Some(ori), Some(purpose), Some(attention), Some(phone), Some((family, given))) = (
        ori,
        fields.purpose,
        fields.attention,
        fields.phone,
        fields.name,
    ) else {
        // Every required field was present and read, or an error was recorded above.
        return Err(vec![FieldError::new(
            "message",
            "missing_field",
            "a required field could not be read",
        )]);
    };
    let subject = Subject {
        family_names: vec![family],
        given_names: given,
        date_of_birth: fields.dob,
        sex: fields.sex,
        place_of_birth: fields.pob,
        a_number: fields.a_number,
        fbi_number: fields.fbi,
        state_id: fields.sid,
        in_custody: fields.custody,
        offense_code: fields.offense,
    };
    if let Err(e) = subject.validate() {
        let field = if e.field.contains("date_of_birth") {
            "DOB"
        } else {
            "NAM"
        };
        return Err(vec![FieldError::new(field, "bad_format", e.message)]);
    }
    Ok(Iaq {
        ori,
        purpose,
        attention,
        phone,
        subject,
        licence: fields.licence,
    })
}

/// What the fields said, as they are read.
#[derive(Default)]
struct Fields {
    purpose: Option<PurposeCode>,
    attention: Option<String>,
    phone: Option<E164>,
    name: Option<(Name, Vec<Name>)>,
    dob: Option<Date>,
    sex: Option<Sex>,
    pob: Option<Name>,
    custody: Option<bool>,
    offense: Option<Name>,
    a_number: Option<ANumber>,
    fbi: Option<Name>,
    sid: Option<Name>,
    licence: Option<String>,
}

impl Fields {
    fn read(&mut self, tag: &str, v: &str, today: Date) -> Result<(), FieldError> {
        let err = |code, message: String| FieldError::new(tag, code, message);
        let max = |n: usize| {
            if v.chars().count() > n {
                Err(err(
                    "too_long",
                    format!("{tag} is at most {n} characters, got {}", v.chars().count()),
                ))
            } else {
                Ok(())
            }
        };
        let up = v.to_ascii_uppercase();
        match tag {
            "PUR" => {
                self.purpose = Some(PurposeCode::parse(v).map_err(|_| {
                    err(
                        "bad_code",
                        format!("the purpose is C or F, not {:?}", clip(v)),
                    )
                })?);
            }
            "ATN" => {
                max(30)?;
                self.attention = Some(v.to_owned());
            }
            "PHN" => {
                let digits: String = v.chars().filter(|c| !" -()".contains(*c)).collect();
                let national = match digits.len() {
                    10 => digits.as_str(),
                    11 if digits.starts_with('1') => &digits[1..],
                    _ => "",
                };
                // A North American number: area code and exchange each start with 2 to 9.
                let b = national.as_bytes();
                if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) || b[0] < b'2' || b[3] < b'2'
                {
                    return Err(err(
                        "bad_phone",
                        format!(
                            "a ten-digit North American number (area code first), not {:?}",
                            clip(v)
                        ),
                    ));
                }
                let e164 = format!("+1{national}");
                self.phone = Some(E164::parse(&e164).map_err(|e| err("bad_phone", e.reason))?);
            }
            "NAM" => {
                max(30)?;
                let Some((family, given)) = v.split_once(',') else {
                    return Err(err(
                        "bad_format",
                        format!(
                            "FAMILY,GIVEN NAMES (a comma after the family name), not {:?}",
                            clip(v)
                        ),
                    ));
                };
                if let Some(c) = v
                    .chars()
                    .find(|c| !(c.is_ascii_alphabetic() || " -',.".contains(*c)))
                {
                    return Err(err(
                        "bad_format",
                        format!(
                            "a name holds letters, spaces, hyphens, apostrophes and periods, not {c:?}"
                        ),
                    ));
                }
                if given.contains(',') {
                    return Err(err(
                        "bad_format",
                        "one comma, after the family name".to_owned(),
                    ));
                }
                let family = Name::parse(family).map_err(|_| {
                    err(
                        "bad_format",
                        "the family name is missing before the comma".to_owned(),
                    )
                })?;
                let given = given
                    .split_whitespace()
                    .map(Name::parse)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| err("bad_format", e.reason))?;
                self.name = Some((family, given));
            }
            "DOB" => {
                if v.len() != 8 || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err(
                        "bad_date",
                        format!("a birth date is CCYYMMDD (8 digits), not {:?}", clip(v)),
                    ));
                }
                let n = |r: std::ops::Range<usize>| v[r].parse::<u32>().unwrap_or(0);
                let (y, m, d) = (n(0..4) as i32, n(4..6), n(6..8));
                let month = u8::try_from(m)
                    .ok()
                    .and_then(|m| time::Month::try_from(m).ok())
                    .ok_or_else(|| err("bad_date", format!("{m:02} is not a month")))?;
                let date = Date::from_calendar_date(y, month, d as u8)
                    .map_err(|_| err("bad_date", format!("{v} is not a date")))?;
                if y < 1900 {
                    return Err(err("bad_date", format!("{v} is before 1900")));
                }
                if date > today {
                    return Err(err("future_date", format!("{v} is after today ({today})")));
                }
                self.dob = Some(date);
            }
            "SEX" => {
                self.sex = Some(match up.as_str() {
                    "M" => Sex::Male,
                    "F" => Sex::Female,
                    "U" => Sex::Unknown,
                    _ => {
                        return Err(err(
                            "bad_code",
                            format!("sex is M, F or U, not {:?}", clip(v)),
                        ));
                    }
                });
            }
            "POB" => {
                if v.len() != 2 || !v.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Err(err(
                        "bad_code",
                        format!("a two-letter state or country code, not {:?}", clip(v)),
                    ));
                }
                self.pob = Some(name(&up));
            }
            "CUS" => {
                self.custody = Some(match up.as_str() {
                    "Y" => true,
                    "N" => false,
                    _ => {
                        return Err(err(
                            "bad_code",
                            format!("custody is Y or N, not {:?}", clip(v)),
                        ));
                    }
                });
            }
            "OFF" => {
                if v.len() != 4 || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err(
                        "bad_code",
                        format!("a four-digit NCIC offense code, not {:?}", clip(v)),
                    ));
                }
                self.offense = Some(name(v));
            }
            "ARN" => {
                self.a_number = Some(ANumber::parse(v).map_err(|e| err("bad_a_number", e.reason))?);
            }
            "FBI" => {
                max(9)?;
                alphanumeric(tag, v)?;
                self.fbi = Some(name(&up));
            }
            "SID" => {
                max(10)?;
                alphanumeric(tag, v)?;
                let state = v.get(..2).unwrap_or("");
                if v.len() < 3 || StateCode::parse(state).is_err() {
                    return Err(err(
                        "bad_format",
                        format!(
                            "a state id is the state's code and its number (TX12345678), not {:?}",
                            clip(v)
                        ),
                    ));
                }
                self.sid = Some(name(&up));
            }
            "OLN" => {
                max(20)?;
                alphanumeric(tag, v)?;
                self.licence = Some(up);
            }
            _ => unreachable!("only known tags are read"),
        }
        Ok(())
    }
}

fn alphanumeric(tag: &str, v: &str) -> Result<(), FieldError> {
    match v.chars().find(|c| !c.is_ascii_alphanumeric()) {
        None => Ok(()),
        Some(c) => Err(FieldError::new(
            tag,
            "bad_format",
            format!("{tag} holds letters and digits only, not {c:?}"),
        )),
    }
}

/// A value already checked to be a short, non-empty printable text.
fn name(v: &str) -> Name {
    Name::parse(v).expect("a checked, non-empty value")
}

/// A value as an error quotes it: at most 40 characters.
fn clip(v: &str) -> String {
    v.chars().take(40).collect()
}

/// Lines may be wrapped anywhere: a line break after a period is dropped, any other becomes a
/// space.
fn unwrap_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n') {
        let line = line.trim_end();
        if !out.is_empty() && !out.ends_with('.') && !line.is_empty() {
            out.push(' ');
        }
        out.push_str(line.trim_start());
    }
    out
}

/// `TAG/value` if the chunk starts with a three-letter tag and a slash.
fn tag_of(chunk: &str) -> Option<(&str, &str)> {
    let b = chunk.as_bytes();
    (b.len() >= 4 && b[..3].iter().all(u8::is_ascii_uppercase) && b[3] == b'/')
        .then(|| (&chunk[..3], &chunk[4..]))
}

/// Splits the body at each period followed by a field's tag.
fn split_fields(body: &str) -> Vec<&str> {
    let b = body.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        // Spaces between a field's period and the next tag are padding, not a value.
        if c == b'.' && tag_of(body[i + 1..].trim_start()).is_some() {
            out.push(&body[start..i]);
            start = i + 1;
        }
    }
    out.push(&body[start..]);
    out
}

/// What an IAR response says.
#[derive(Debug, Clone)]
pub struct Reply<'a> {
    /// The agency the response goes to.
    pub ori: &'a Ori,
    /// The inquiry's reference number.
    pub reference: &'a str,
    /// `RECEIVED`, `CHECKED` (cross-check done, waiting for the call-taker) or `ANSWERED`.
    pub status: &'a str,
    pub subject: &'a Subject,
    /// What the center tells the caller (only once a disposition is recorded).
    pub response: Option<&'a str>,
}

/// The IAR-style text of a reply: header, reference, status, the subject as asked, and the
/// center's response last (its text may hold periods). Nothing else about any record is
/// ever in it.
pub fn iar(r: &Reply) -> String {
    let s = r.subject;
    // Names as the IAQ writes them: upper-case ASCII letters, spaces, hyphens and apostrophes
    // (a name given in JSON may hold anything; nothing in it may read as a field).
    let names = |n: &[Name]| {
        let joined = n.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" ");
        switchboard_domain::fold_for_search(&joined)
            .to_ascii_uppercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphabetic() || " -'".contains(c) {
                    c
                } else {
                    ' '
                }
            })
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = format!(
        "IAR.{}.AX.\nREF/{}.STS/{}.NAM/{},{}.",
        r.ori,
        r.reference,
        r.status,
        names(&s.family_names),
        names(&s.given_names)
    );
    if let Some(d) = s.date_of_birth {
        out.push_str(&format!(
            "DOB/{:04}{:02}{:02}.",
            d.year(),
            u8::from(d.month()),
            d.day()
        ));
    }
    if let Some(text) = r.response {
        // No slash, so no period in it can be read as the start of another field; printable
        // ASCII only, like the rest of the message.
        let text: String = text
            .chars()
            .map(|c| match c {
                '/' => '-',
                c if c.is_ascii_graphic() || c == ' ' => c,
                _ => ' ',
            })
            .collect();
        out.push_str(&format!("\nRSP/{}", text.trim_end_matches('.')));
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests;
