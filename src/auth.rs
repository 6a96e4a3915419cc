//! Access control: API keys sent as `Authorization: Bearer <key>`, each with a role.
//!
//! - `read` keys run queries and subscriptions (and read `/metrics` and the SDL);
//! - `ingest` keys run mutations and `POST /ingest`, and nothing else;
//! - `admin` keys do everything.
//!
//! Keys come from `--api-key ROLE:KEY` (repeatable; `RUNLENS_API_KEYS` takes a comma-separated
//! list) and from `--api-keys-file`, whose lines are `ROLE KEY` or `ROLE sha256:HEX` so that a
//! file need not hold the keys themselves. Only SHA-256 digests are kept in memory, and a
//! presented key is looked up by its digest. With no key configured the server is open, which
//! it allows only on a loopback address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Read,
    Ingest,
    Admin,
}

impl Role {
    fn parse(text: &str) -> anyhow::Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "read" => Ok(Role::Read),
            "ingest" => Ok(Role::Ingest),
            "admin" => Ok(Role::Admin),
            other => anyhow::bail!("unknown role {other:?}: use read, ingest or admin"),
        }
    }
}

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Queries, subscriptions, `/metrics`, the SDL.
    Read,
    /// Mutations and `POST /ingest`.
    Write,
}

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No keys are configured: everything is allowed.
    Open,
    Key(Role),
}

impl Access {
    /// Whether this caller may do what `need` says; FORBIDDEN otherwise.
    pub fn allow(self, need: Need) -> Result<(), ApiError> {
        let allowed = matches!(
            (self, need),
            (Access::Open | Access::Key(Role::Admin), _)
                | (Access::Key(Role::Read), Need::Read)
                | (Access::Key(Role::Ingest), Need::Write)
        );
        if allowed {
            Ok(())
        } else {
            Err(ApiError::Forbidden(match need {
                Need::Read => "this key may not read; use a read or admin key".to_owned(),
                Need::Write => "this key may not write; use an ingest or admin key".to_owned(),
            }))
        }
    }
}

/// The configured keys, by SHA-256 digest.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    by_digest: HashMap<[u8; 32], Role>,
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl Keys {
    /// Keys from `ROLE:KEY` entries and an optional file of `ROLE KEY` / `ROLE sha256:HEX` lines.
    pub fn load(entries: &[String], file: Option<&Path>) -> anyhow::Result<Self> {
        let mut keys = Keys::default();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let (role, key) = entry.split_once(':').ok_or_else(|| anyhow::anyhow!("an API key is ROLE:KEY"))?;
            keys.add(Role::parse(role)?, key.trim())?;
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read the API keys file {}: {e}", path.display()))?;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let (role, key) = line
                    .split_once(char::is_whitespace)
                    .ok_or_else(|| anyhow::anyhow!("{}:{}: expected `ROLE KEY`", path.display(), n + 1))?;
                let role = Role::parse(role)?;
                match key.trim().strip_prefix("sha256:") {
                    Some(hex_digest) => {
                        let bytes = hex::decode(hex_digest)
                            .ok()
                            .and_then(|b| <[u8; 32]>::try_from(b).ok())
                            .ok_or_else(|| anyhow::anyhow!("{}:{}: bad sha256 digest", path.display(), n + 1))?;
                        keys.by_digest.insert(bytes, role);
                    }
                    None => keys.add(role, key.trim())?,
                }
            }
        }
        Ok(keys)
    }

    fn add(&mut self, role: Role, key: &str) -> anyhow::Result<()> {
        anyhow::ensure!(key.len() >= 16, "API keys must be at least 16 characters");
        self.by_digest.insert(digest(key), role);
        Ok(())
    }

    pub fn is_open(&self) -> bool {
        self.by_digest.is_empty()
    }

    /// Refuses to serve without keys anywhere but on loopback.
    pub fn check_bind(&self, bind: SocketAddr) -> anyhow::Result<()> {
        if self.is_open() && !bind.ip().is_loopback() {
            anyhow::bail!(
                "no API keys configured: refusing to serve on {bind}, which is not a loopback address \
                 (configure --api-key / RUNLENS_API_KEYS or --api-keys-file)"
            );
        }
        Ok(())
    }

    /// Who presents `token` (a bearer token, or a key without the scheme).
    pub fn access_for(&self, token: Option<&str>) -> Result<Access, ApiError> {
        if self.is_open() {
            return Ok(Access::Open);
        }
        let token = token.map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
            ApiError::Unauthenticated("an API key is required: send `Authorization: Bearer <key>`".to_owned())
        })?;
        self.by_digest
            .get(&digest(token))
            .map(|role| Access::Key(*role))
            .ok_or_else(|| ApiError::Unauthenticated("unknown API key".to_owned()))
    }

    /// Who sent an HTTP request.
    pub fn access(&self, headers: &HeaderMap) -> Result<Access, ApiError> {
        self.access_for(bearer(headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())))
    }
}

/// The token of an `Authorization: Bearer …` value.
pub fn bearer(value: Option<&str>) -> Option<&str> {
    let value = value?.trim();
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(token.trim()),
        _ => None,
    }
}

/// The key in a WebSocket `connection_init` payload: `Authorization` (or `authorization`),
/// with or without `Bearer`, at the top or under `headers`; or `apiKey`.
pub fn token_in_payload(payload: &serde_json::Value) -> Option<&str> {
    fn field(value: &serde_json::Value) -> Option<&str> {
        let authorization = value.get("Authorization").or_else(|| value.get("authorization")).and_then(|a| a.as_str());
        authorization.map(|a| bearer(Some(a)).unwrap_or(a)).or_else(|| value.get("apiKey").and_then(|k| k.as_str()))
    }
    field(payload).or_else(|| payload.get("headers").and_then(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_they_should() {
        let keys =
            Keys::load(&["read:reader-key-0123456789".into(), "ingest:ingest-key-0123456789".into()], None).unwrap();
        let read = keys.access_for(Some("reader-key-0123456789")).unwrap();
        let ingest = keys.access_for(Some("ingest-key-0123456789")).unwrap();
        assert!(read.allow(Need::Read).is_ok() && read.allow(Need::Write).is_err());
        assert!(ingest.allow(Need::Write).is_ok() && ingest.allow(Need::Read).is_err());
        assert!(keys.access_for(Some("nope-nope-nope-nope")).is_err());
        assert!(keys.access_for(None).is_err());
        assert!(keys.check_bind("0.0.0.0:80".parse().unwrap()).is_ok());
        assert!(Keys::default().check_bind("0.0.0.0:80".parse().unwrap()).is_err());
        assert!(Keys::default().check_bind("127.0.0.1:80".parse().unwrap()).is_ok());
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        let payload = serde_json::json!({ "headers": { "authorization": "Bearer k" } });
        assert_eq!(token_in_payload(&payload), Some("k"));
        assert_eq!(token_in_payload(&serde_json::json!({ "apiKey": "k" })), Some("k"));
    }
}
