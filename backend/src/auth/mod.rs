//! Who is asking: local accounts, sign-in with rate limiting, server-side sessions, and the
//! extractor that enforces a minimum role per route.

pub mod extract;
pub mod oidc;
pub mod password;
pub mod session;
pub mod sign_in;
pub mod tokens;
pub mod turns;

pub use extract::{Admin, Anyone, Authenticated, MinRole, Operator, Person, Signed};
pub use session::{CurrentSession, SessionSettings};
pub use sign_in::{RateLimits, Reentry, SignInOutcome};

/// A configured limit (idle time, lifetime, rate-limit window) as a span of database time; a
/// limit too long for chrono counts as forever.
fn as_span(limit: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(limit).unwrap_or(chrono::Duration::MAX)
}
