//! The SOAP front's sessions: a login lives under a `JSESSIONID` cookie together with the
//! `sessionId` of the documents that made it, and a request that carries one without the other
//! is refused.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;

use super::front::{Drawn, FaultSwitch, SoapFaults};
use crate::ocip::Login;
use crate::state::lock;

/// Beyond this many sessions, the one used least recently ends when a new one starts.
const MAX_SESSIONS: usize = 65_536;

/// The SOAP front's shared state: its sessions and its faults.
#[derive(Default)]
pub(crate) struct SoapShared {
    sessions: Mutex<Sessions>,
    faults: Mutex<FaultSwitch>,
}

impl std::fmt::Debug for SoapShared {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SoapShared")
            .field("sessions", &lock(&self.sessions).by_cookie.len())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Sessions {
    by_cookie: HashMap<String, Session>,
    /// The cookie of the session each sessionId belongs to.
    cookie_of: HashMap<String, String>,
}

struct Session {
    session_id: String,
    login: Login,
    last_used: Instant,
}

/// Which session a request runs under.
#[derive(Debug)]
pub(crate) enum Binding {
    /// The session of the request's cookie, with its login as it stands.
    Known { cookie: String, login: Login },
    /// A session this request starts, under a new cookie.
    New { cookie: String },
    /// The cookie and the sessionId do not belong together: why.
    Refused(&'static str),
}

impl SoapShared {
    pub(crate) fn set_faults(&self, faults: SoapFaults) {
        *lock(&self.faults) = FaultSwitch::new(faults);
    }

    /// The hostile-front faults in force (as set, whatever they hit so far).
    pub(crate) fn faults(&self) -> SoapFaults {
        lock(&self.faults).faults().clone()
    }

    /// Whether a hostile-front fault hits a request carrying these commands.
    pub(crate) fn draw(&self, commands: &[&str]) -> Drawn {
        lock(&self.faults).draw(commands)
    }

    /// The session a request with this cookie (if any) and sessionId runs under. A session idle
    /// longer than `ttl` is over. `starts_login`: the document begins with a login's first step,
    /// which may start a new session for a sessionId whose cookie the client no longer has.
    pub(crate) fn bind(
        &self,
        cookie: Option<&str>,
        session_id: &str,
        starts_login: bool,
        ttl: Duration,
    ) -> Binding {
        let mut sessions = lock(&self.sessions);
        let now = Instant::now();
        if let Some(cookie) = cookie {
            let expired = sessions
                .by_cookie
                .get(cookie)
                .is_some_and(|session| now.duration_since(session.last_used) >= ttl);
            if expired {
                sessions.remove(cookie);
            }
            if let Some(session) = sessions.by_cookie.get_mut(cookie) {
                if session.session_id != session_id {
                    return Binding::Refused(
                        "the JSESSIONID cookie belongs to a session with another sessionId",
                    );
                }
                session.last_used = now;
                return Binding::Known {
                    cookie: cookie.to_owned(),
                    login: session.login.clone(),
                };
            }
        }
        if let Some(owner) = sessions.cookie_of.get(session_id).cloned() {
            let live = sessions
                .by_cookie
                .get(&owner)
                .is_some_and(|session| now.duration_since(session.last_used) < ttl);
            if live && !starts_login {
                return Binding::Refused(
                    "the sessionId belongs to a session whose JSESSIONID cookie this request does not carry",
                );
            }
            sessions.remove(&owner);
        }
        if sessions.by_cookie.len() >= MAX_SESSIONS {
            sessions.end_least_recent();
        }
        let cookie = new_cookie();
        sessions
            .cookie_of
            .insert(session_id.to_owned(), cookie.clone());
        sessions.by_cookie.insert(
            cookie.clone(),
            Session {
                session_id: session_id.to_owned(),
                login: Login::Connected,
                last_used: now,
            },
        );
        Binding::New { cookie }
    }

    /// Keeps a session's login after a document ran; `ended`: it logged out, and the session
    /// (cookie and sessionId) is over.
    pub(crate) fn store(&self, cookie: &str, session_id: &str, login: Login, ended: bool) {
        let mut sessions = lock(&self.sessions);
        if ended {
            sessions.remove(cookie);
            return;
        }
        if let Some(session) = sessions.by_cookie.get_mut(cookie)
            && session.session_id == session_id
        {
            session.login = login;
            session.last_used = Instant::now();
        }
    }
}

impl Sessions {
    fn remove(&mut self, cookie: &str) {
        if let Some(session) = self.by_cookie.remove(cookie)
            && self.cookie_of.get(&session.session_id).map(String::as_str) == Some(cookie)
        {
            self.cookie_of.remove(&session.session_id);
        }
    }

    fn end_least_recent(&mut self) {
        let oldest = self
            .by_cookie
            .iter()
            .min_by_key(|(_, session)| session.last_used)
            .map(|(cookie, _)| cookie.clone());
        if let Some(cookie) = oldest {
            self.remove(&cookie);
        }
    }
}

/// 32 upper-case hexadecimal digits, as servlet containers make them.
fn new_cookie() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    let mut cookie = String::with_capacity(32);
    for byte in bytes {
        let _ = write!(cookie, "{byte:02X}");
    }
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn a_cookie_and_its_session_id_go_together() {
        let shared = SoapShared::default();
        let Binding::New { cookie } = shared.bind(None, "s1", true, DAY) else {
            panic!("no new session")
        };
        assert!(matches!(
            shared.bind(Some(&cookie), "s1", false, DAY),
            Binding::Known { .. }
        ));
        assert!(matches!(
            shared.bind(Some(&cookie), "s2", false, DAY),
            Binding::Refused(reason) if reason.contains("another sessionId")
        ));
        assert!(matches!(
            shared.bind(None, "s1", false, DAY),
            Binding::Refused(reason) if reason.contains("does not carry")
        ));
        assert!(matches!(
            shared.bind(Some("made-up"), "s1", false, DAY),
            Binding::Refused(_)
        ));
        // A new login's first step starts over, and the old cookie is over.
        let Binding::New { cookie: second } = shared.bind(None, "s1", true, DAY) else {
            panic!("no new session")
        };
        assert_ne!(second, cookie);
        assert!(matches!(
            shared.bind(Some(&cookie), "s1", false, DAY),
            Binding::Refused(_)
        ));
        shared.store(&second, "s1", Login::Connected, true);
        assert!(matches!(
            shared.bind(None, "s1", false, DAY),
            Binding::New { .. }
        ));
    }

    #[test]
    fn an_idle_session_is_over() {
        let shared = SoapShared::default();
        let Binding::New { cookie } = shared.bind(None, "s1", true, Duration::ZERO) else {
            panic!("no new session")
        };
        assert!(matches!(
            shared.bind(Some(&cookie), "s1", false, Duration::ZERO),
            Binding::New { .. }
        ));
    }
}
