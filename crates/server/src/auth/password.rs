//! Argon2id password hashes, computed on the blocking pool so a burst of sign-ins cannot
//! stall the async runtime.
//!
//! Each hash fills 19 MiB of working memory, and sign-ups and failed sign-ins need no
//! account. Left to the allocator, every concurrent hash took its own 19 MiB, and glibc kept
//! most of it after the burst (docs/decisions.md, "Password hashing"). So at most
//! [`MemoryPool::capacity`] hashes run at once, each on one of as many buffers that are kept
//! and reused: the memory hashing can take is fixed, whatever the load.

use std::sync::{LazyLock, Mutex};

use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::error::ApiError;

pub async fn hash(password: String) -> Result<String, ApiError> {
    POOL.run(move |memory| hash_with(password.as_bytes(), memory))
        .await?
}

/// Checks `password` against `stored`; with no stored hash (unknown email) a dummy hash is
/// verified instead so both cases take the same time and reveal nothing.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_string());
    POOL.run(move |memory| verify_with(password.as_bytes(), &stored, memory))
        .await?
}

/// Argon2id (default parameters) of a random password nobody knows.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$W3gSqpJ8hYdD6ivpQ5QdrZbq0C4vSxkBXhbJ6DSxJ9Y";

static POOL: LazyLock<MemoryPool> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    MemoryPool::new(cores.clamp(1, 4))
});

/// Working memory for the hashes that may run at once.
struct MemoryPool {
    permits: Semaphore,
    capacity: usize,
    idle: Mutex<Vec<Vec<Block>>>,
}

impl MemoryPool {
    fn new(capacity: usize) -> Self {
        MemoryPool {
            permits: Semaphore::new(capacity),
            capacity,
            idle: Mutex::new(Vec::with_capacity(capacity)),
        }
    }

    /// Runs `work` on the blocking pool with a buffer of its own, once a permit is free.
    async fn run<T: Send + 'static>(
        &'static self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ApiError::fault("password hashing is closed", e))?;
        let mut memory = self.take();
        let (result, memory) = tokio::task::spawn_blocking(move || {
            let result = work(&mut memory);
            (result, memory)
        })
        .await
        .map_err(|e| ApiError::fault("the hashing task failed", e))?;
        self.give_back(memory);
        Ok(result)
    }

    /// A buffer left by an earlier hash, or a new (empty) one; each permit holds at most
    /// one, so no more than `capacity` exist.
    fn take(&self) -> Vec<Block> {
        self.idle
            .lock()
            .map(|mut idle| idle.pop())
            .unwrap_or_default()
            .unwrap_or_default()
    }

    fn give_back(&self, memory: Vec<Block>) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < self.capacity {
                idle.push(memory);
            }
        }
    }

    #[cfg(test)]
    fn buffers(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.len())
    }
}

/// Grows `memory` to what `params` needs (only the first hash, or a stored hash made with
/// more memory than today's default, grows it).
fn sized<'a>(memory: &'a mut Vec<Block>, params: &Params) -> &'a mut [Block] {
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    &mut memory[..params.block_count()]
}

fn hash_with(password: &[u8], memory: &mut Vec<Block>) -> Result<String, ApiError> {
    let failed =
        |e: &dyn std::fmt::Display| ApiError::fault("password hashing failed", e.to_string());
    let params = Params::default();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| failed(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, raw_salt, &mut out, sized(memory, &params))
        .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

fn verify_with(password: &[u8], stored: &str, memory: &mut Vec<Block>) -> Result<bool, ApiError> {
    let invalid = |e: &dyn std::fmt::Display| {
        ApiError::fault("the stored password hash is invalid", e.to_string())
    };
    let parsed = PasswordHash::new(stored).map_err(|e| invalid(&e))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(invalid(&"it has no salt or no hash"));
    };
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| invalid(&e))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| invalid(&e))?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(|e| invalid(&e))?;
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut salt_bytes).map_err(|e| invalid(&e))?;
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(password, raw_salt, &mut out, sized(memory, &params))
        .map_err(|e| invalid(&e))?;
    Ok(bool::from(expected.as_bytes().ct_eq(&out)))
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery".into(), Some(h.clone()))
            .await
            .unwrap());
        assert!(!verify("wrong horse battery".into(), Some(h)).await.unwrap());
        assert!(!verify("anything at all".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_made_by_the_argon2_crate_and_by_the_pool_verify_each_other() {
        let salt = SaltString::generate(&mut OsRng);
        let by_crate = Argon2::default()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(verify("correct horse battery".into(), Some(by_crate))
            .await
            .unwrap());
        let by_pool = hash("correct horse battery".into()).await.unwrap();
        let parsed = PasswordHash::new(&by_pool).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse battery", &parsed)
            .is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_hashes_shares_a_fixed_number_of_buffers() {
        let burst: Vec<_> = (0..24)
            .map(|i| tokio::spawn(verify(format!("guess number {i}"), None)))
            .collect();
        for task in burst {
            assert!(!task.await.unwrap().unwrap());
        }
        let buffers = POOL.buffers();
        // Other tests may hold some at this moment, never more than there are permits.
        assert!(
            buffers <= POOL.capacity,
            "{buffers} buffers for {} permits",
            POOL.capacity
        );
    }
}
