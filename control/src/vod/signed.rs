//! Signed on-demand URLs: `?expires=<unix s>&sig=<HMAC-SHA256>` lets whoever holds the URL
//! play a private item until `expires`, with no login (a customer's own site, a share).
//!
//! Invariants: the signature covers the item's public id and the expiry, nothing else, so
//! the same query works on the player page, the master and rendition playlists and every
//! segment (the playlists pass it on); the key never leaves the database and this module
//! (its `Debug` is redacted, it is never logged); signatures are compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use tokio::sync::OnceCell;

use crate::db::Db;

/// The key's purpose in `server_secrets`.
pub const PURPOSE: &str = "vod_urls";

/// The signing key, read from the database at first use.
#[derive(Default)]
pub struct Keys(OnceCell<Key>);

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// The key (made and stored at the first use on a new database).
    pub async fn get(&self, db: &Db) -> sqlx::Result<&Key> {
        self.0
            .get_or_try_init(|| async {
                let secret = crate::db::vod::server_secret(
                    db,
                    PURPOSE,
                    &crate::auth::secret::random_b64(32),
                )
                .await?;
                Ok(Key(secret.into_bytes()))
            })
            .await
    }
}

/// An HMAC key.
pub struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// A signature's fields as a URL carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// Unix seconds.
    pub expires: i64,
    pub sig: String,
}

impl Signed {
    /// The query that carries it: `expires=…&sig=…` (URL-safe as it is).
    pub fn query(&self) -> String {
        format!("expires={}&sig={}", self.expires, self.sig)
    }

    /// The signature in a request's query, if it has one (both fields, well-formed).
    pub fn from_query(query: &str) -> Option<Self> {
        let mut expires = None;
        let mut sig = None;
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "expires" => expires = v.parse::<i64>().ok(),
                "sig" => sig = Some(v.into_owned()),
                _ => {}
            }
        }
        let sig = sig.filter(|s| {
            s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })?;
        Some(Self {
            expires: expires?,
            sig,
        })
    }
}

/// What a signature says of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Made with our key for this item, and not expired.
    Valid,
    /// Made with our key for this item, but its time is past.
    Expired,
    /// Not ours, or for another item or another expiry.
    Wrong,
}

fn mac(key: &Key, public_id: &str, expires: i64) -> Hmac<Sha256> {
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(&key.0).expect("HMAC takes keys of any length");
    mac.update(format!("tidecast-vod\n{public_id}\n{expires}").as_bytes());
    mac
}

/// Signs item `public_id` until `expires` (unix seconds).
pub fn sign(key: &Key, public_id: &str, expires: i64) -> Signed {
    let tag = mac(key, public_id, expires).finalize().into_bytes();
    Signed {
        expires,
        sig: URL_SAFE_NO_PAD.encode(tag),
    }
}

/// Whether `signed` is ours for item `public_id`, at `now` (unix seconds).
pub fn check(key: &Key, public_id: &str, signed: &Signed, now: i64) -> Check {
    let Ok(tag) = URL_SAFE_NO_PAD.decode(&signed.sig) else {
        return Check::Wrong;
    };
    if mac(key, public_id, signed.expires)
        .verify_slice(&tag)
        .is_err()
    {
        return Check::Wrong;
    }
    if signed.expires <= now {
        Check::Expired
    } else {
        Check::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_signature_holds_for_its_item_until_it_expires() {
        let key = Key(b"k".repeat(43));
        let s = sign(&key, ID, 1_000);
        assert_eq!(check(&key, ID, &s, 999), Check::Valid);
        assert_eq!(check(&key, ID, &s, 1_000), Check::Expired);
        let read = Signed::from_query(&format!("a=1&{}", s.query()));
        assert_eq!(read.as_ref(), Some(&s));
        // Another item, another expiry, another key, a changed signature: not ours.
        let other = ID.replace('0', "f");
        assert_eq!(check(&key, &other, &s, 0), Check::Wrong);
        let later = Signed {
            expires: 5_000,
            ..s.clone()
        };
        assert_eq!(check(&key, ID, &later, 0), Check::Wrong);
        assert_eq!(check(&Key(b"j".repeat(43)), ID, &s, 0), Check::Wrong);
        let mut bytes = s.sig.clone().into_bytes();
        bytes[0] = if bytes[0] == b'A' { b'B' } else { b'A' };
        let tampered = Signed {
            sig: String::from_utf8(bytes).unwrap_or_default(),
            ..s.clone()
        };
        assert_eq!(check(&key, ID, &tampered, 0), Check::Wrong);
        let junk = Signed {
            sig: "!!".into(),
            ..s
        };
        assert_eq!(check(&key, ID, &junk, 0), Check::Wrong);
    }

    #[test]
    fn a_query_without_both_fields_is_no_signature() {
        assert_eq!(Signed::from_query(""), None);
        assert_eq!(Signed::from_query("expires=5"), None);
        assert_eq!(Signed::from_query("sig=abc"), None);
        assert_eq!(Signed::from_query("expires=x&sig=abc"), None);
        assert_eq!(Signed::from_query("expires=5&sig=a%0Ab"), None);
    }
}
