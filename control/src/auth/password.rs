//! Argon2id password hashing. Hashing is deliberately slow (tens of milliseconds and
//! 19 MiB each), so it runs on the blocking pool, never on the async runtime's threads, and
//! at most one per core at a time: logins and encoder connections with guessed passwords
//! (the Icecast port is open to anyone) then queue instead of taking every core and
//! gigabytes of memory.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};

static SLOTS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// Hashes a password with Argon2id (OWASP's recommended parameters, the crate default).
pub async fn hash(password: String) -> anyhow::Result<String> {
    let _slot = SLOTS.acquire().await?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        let hashed = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"));
        crate::memory::release();
        hashed
    })
    .await?
}

/// Checks a password against a stored hash. With no hash (unknown user) it still does the
/// work of a check, so response time does not tell which usernames exist.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    let Ok(_slot) = SLOTS.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        crate::memory::release();
        ok
    })
    .await
    .unwrap_or(false)
}

/// A valid Argon2id hash of a random string nobody knows, with default parameters.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2Kk5Hk5YJ9ffXtlCtxVYQc2zvJqKmG1gQ1Pq3n8BZ1Y";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let h = hash("correct horse".into()).await.expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse".into(), Some(h.clone())).await);
        assert!(!verify("wrong horse".into(), Some(h)).await);
        assert!(!verify("anything".into(), None).await);
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
