//! The registrar: softphones REGISTER their contact, proving who they are with HTTP digest
//! (RFC 3261 §22, RFC 2617 MD5 with `qop=auth`); the ACD's offers go to the contact registered
//! for the agent's user.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rsipstack::dialog::authenticate::verify_digest;
use rsipstack::sip::{Header, HeadersExt, Method, Request, StatusCode, Uri};
use std::sync::Mutex;

/// A nonce is good for this long (a REGISTER refresh gets a new challenge after it).
const NONCE_LIFE: Duration = Duration::from_secs(300);
/// Nonces kept at most: an unauthenticated flood of REGISTERs cannot grow memory past this.
const MAX_NONCES: usize = 10_000;
pub const DEFAULT_EXPIRES: u32 = 3_600;
pub const MAX_EXPIRES: u32 = 7_200;

/// Where a user can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub contact: Uri,
    pub expires: Instant,
    /// Configured, not registered: never expires, cannot be removed by REGISTER.
    pub fixed: bool,
}

/// What a REGISTER gets.
#[derive(Debug)]
pub enum Outcome {
    /// 401 with this WWW-Authenticate value.
    Challenge(String),
    /// 403: the credentials are wrong (or the user is unknown).
    Forbidden,
    /// 400 with a reason.
    Bad(&'static str),
    /// 200: the bindings now, with their remaining seconds.
    Ok(Vec<(Uri, u32)>),
}

#[derive(Debug)]
pub struct Registrar {
    realm: String,
    passwords: HashMap<String, String>,
    bindings: Mutex<HashMap<String, Binding>>,
    nonces: Mutex<HashMap<String, Instant>>,
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("the operating system's random numbers");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Registrar {
    /// `accounts`: user → password; `fixed`: user → contact for phones that do not register.
    pub fn new(
        realm: String,
        accounts: impl IntoIterator<Item = (String, String)>,
        fixed: impl IntoIterator<Item = (String, Uri)>,
    ) -> Self {
        let far = Instant::now() + Duration::from_secs(100 * 365 * 86_400);
        Self {
            realm,
            passwords: accounts.into_iter().collect(),
            bindings: Mutex::new(
                fixed
                    .into_iter()
                    .map(|(u, contact)| {
                        (
                            u,
                            Binding {
                                contact,
                                expires: far,
                                fixed: true,
                            },
                        )
                    })
                    .collect(),
            ),
            nonces: Mutex::new(HashMap::new()),
        }
    }

    /// The contact to ring for `user`, if it is registered and not expired.
    pub fn lookup(&self, user: &str) -> Option<Uri> {
        let mut b = self.bindings.lock().expect("bindings");
        match b.get(user) {
            Some(x) if x.expires > Instant::now() => Some(x.contact.clone()),
            Some(_) => {
                b.remove(user);
                None
            }
            None => None,
        }
    }

    /// Users registered now.
    pub fn registered(&self) -> usize {
        let now = Instant::now();
        self.bindings
            .lock()
            .expect("bindings")
            .values()
            .filter(|b| b.expires > now)
            .count()
    }

    fn challenge(&self, stale: bool) -> String {
        let nonce = random_hex(16);
        let mut n = self.nonces.lock().expect("nonces");
        let now = Instant::now();
        if n.len() >= MAX_NONCES {
            n.retain(|_, t| now.duration_since(*t) < NONCE_LIFE);
            if n.len() >= MAX_NONCES {
                n.clear();
            }
        }
        n.insert(nonce.clone(), now);
        format!(
            "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\"{}",
            self.realm,
            if stale { ", stale=true" } else { "" }
        )
    }

    /// Handles one REGISTER.
    pub fn register(&self, req: &Request) -> Outcome {
        let Some(header) = req.authorization_header() else {
            return Outcome::Challenge(self.challenge(false));
        };
        let raw = header.value().to_owned();
        let Ok(auth) = rsipstack::sip::typed::Authorization::parse(&raw) else {
            return Outcome::Bad("malformed Authorization header");
        };
        let issued = self
            .nonces
            .lock()
            .expect("nonces")
            .get(&auth.nonce)
            .copied();
        match issued {
            Some(t) if t.elapsed() < NONCE_LIFE => {}
            _ => return Outcome::Challenge(self.challenge(issued.is_some())),
        }
        let Some(password) = self.passwords.get(&auth.username) else {
            return Outcome::Forbidden;
        };
        let to_user = req
            .to_header()
            .ok()
            .and_then(|t| t.uri().ok())
            .and_then(|u| u.user().map(str::to_owned));
        if auth.realm != self.realm
            || to_user.as_deref() != Some(auth.username.as_str())
            || !verify_digest(&auth, password, &Method::Register, &raw)
        {
            return Outcome::Forbidden;
        }
        let default_expires = req
            .expires_header()
            .and_then(|e| e.value().trim().parse::<u32>().ok())
            .unwrap_or(DEFAULT_EXPIRES);
        let contacts: Vec<&str> = req
            .headers
            .iter()
            .filter_map(|h| match h {
                Header::Contact(c) => Some(c.value()),
                _ => None,
            })
            .collect();
        let mut bindings = self.bindings.lock().expect("bindings");
        if bindings.get(&auth.username).is_some_and(|b| b.fixed) {
            return Outcome::Bad("this user's contact is configured, not registered");
        }
        if contacts.iter().any(|c| c.trim() == "*") {
            if default_expires != 0 {
                return Outcome::Bad("Contact: * needs Expires: 0");
            }
            bindings.remove(&auth.username);
            return Outcome::Ok(Vec::new());
        }
        for value in contacts {
            let Ok(contact) = rsipstack::sip::typed::Contact::parse(value) else {
                return Outcome::Bad("malformed Contact header");
            };
            let expires = contact
                .expires()
                .unwrap_or(default_expires)
                .min(MAX_EXPIRES);
            if expires == 0 {
                bindings.remove(&auth.username);
            } else {
                bindings.insert(
                    auth.username.clone(),
                    Binding {
                        contact: contact.uri,
                        expires: Instant::now() + Duration::from_secs(u64::from(expires)),
                        fixed: false,
                    },
                );
            }
        }
        let now = Instant::now();
        Outcome::Ok(
            bindings
                .get(&auth.username)
                .map(|b| {
                    vec![(
                        b.contact.clone(),
                        b.expires.saturating_duration_since(now).as_secs() as u32,
                    )]
                })
                .unwrap_or_default(),
        )
    }
}

/// The response headers for an outcome.
pub fn response(outcome: &Outcome) -> (StatusCode, Vec<Header>) {
    match outcome {
        Outcome::Challenge(c) => (
            StatusCode::Unauthorized,
            vec![Header::WwwAuthenticate(c.clone().into())],
        ),
        Outcome::Forbidden => (StatusCode::Forbidden, Vec::new()),
        Outcome::Bad(why) => (
            StatusCode::BadRequest,
            vec![Header::Other(
                "Warning".into(),
                format!("399 switchboard \"{why}\""),
            )],
        ),
        Outcome::Ok(b) => (
            StatusCode::OK,
            b.iter()
                .map(|(uri, secs)| Header::Contact(format!("<{uri}>;expires={secs}").into()))
                .collect(),
        ),
    }
}
