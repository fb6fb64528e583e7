//! Random secrets: login tokens, API keys, stream keys, source passwords.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// `bytes` random bytes from the OS generator, URL-safe base64 without padding.
pub fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A 256-bit token with a readable prefix (`tcs_` for login sessions, `tck_` for API keys),
/// so a leaked token is recognisable in a scanner's report.
pub fn token(prefix: &str) -> String {
    format!("{prefix}{}", random_b64(32))
}

/// An RTMP stream key: 160 bits, letters and digits only, because some encoders
/// (and people copying keys by hand) trip over `-` and `_`.
pub fn stream_key() -> String {
    alnum(27) // 27 × log2(62) ≈ 160 bits
}

/// An Icecast source password: 143 bits, letters and digits only (some Icecast clients
/// put the password in a URL without escaping it).
pub fn source_password() -> String {
    alnum(24)
}

fn alnum(len: usize) -> String {
    const SET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| {
            // Rejection sampling: 248 = 4 × 62, so every symbol is equally likely.
            loop {
                let b = (rng.next_u32() & 0xff) as u8;
                if b < 248 {
                    return SET[usize::from(b % 62)] as char;
                }
            }
        })
        .collect()
}

/// SHA-256 in hex: how tokens are stored. Tokens carry 256 bits of entropy, so a fast hash
/// is enough (no need for a password hash).
pub fn digest(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets in constant time.
pub fn equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let t = token("tck_");
        assert!(t.starts_with("tck_") && t.len() == 4 + 43);
        assert_ne!(token("tck_"), t);
        let k = stream_key();
        assert_eq!(k.len(), 27);
        assert!(k.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(source_password().len(), 24);
        assert_eq!(digest("abc").len(), 64);
        assert!(equal("abc", "abc") && !equal("abc", "abd") && !equal("abc", "ab"));
    }
}
