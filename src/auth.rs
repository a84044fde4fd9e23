//! Bearer tokens for the write API: where they come from, and how a presented
//! token is checked without leaking, through timing, how much of it was right.

use std::path::Path;

use subtle::ConstantTimeEq;

/// Shorter tokens are refused at start: they could be guessed.
pub const MIN_TOKEN_LEN: usize = 16;

/// The environment variable that holds a token.
pub const TOKEN_ENV: &str = "KABAR_API_TOKEN";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the API token file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{origin}: an API token must be at least {MIN_TOKEN_LEN} characters")]
    TooShort { origin: String },
}

/// The accepted tokens; the write API is off when there are none.
#[derive(Clone)]
pub struct ApiTokens(Vec<Vec<u8>>);

impl std::fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiTokens({} tokens)", self.0.len())
    }
}

impl ApiTokens {
    /// Tokens from `KABAR_API_TOKEN` and from `file` (one per line; blank lines
    /// and `#` comments skipped). `None` when neither gives one.
    pub fn load(file: Option<&Path>) -> Result<Option<ApiTokens>, TokenError> {
        let mut tokens = Vec::new();
        if let Ok(token) = std::env::var(TOKEN_ENV) {
            push(&mut tokens, token.trim(), TOKEN_ENV)?;
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
                path: path.display().to_string(),
                source,
            })?;
            for (i, line) in text.lines().enumerate() {
                let origin = format!("{}:{}", path.display(), i + 1);
                push(&mut tokens, line.trim(), &origin)?;
            }
        }
        Ok(ApiTokens::new(tokens))
    }

    /// Tokens given directly (tests, embedding); `None` when empty.
    pub fn new(tokens: Vec<String>) -> Option<ApiTokens> {
        (!tokens.is_empty())
            .then(|| ApiTokens(tokens.into_iter().map(String::into_bytes).collect()))
    }

    /// Whether `presented` is one of the tokens. Every token is compared in
    /// full, in constant time, whatever matches.
    pub fn accepts(&self, presented: &str) -> bool {
        let presented = presented.as_bytes();
        self.0
            .iter()
            .fold(subtle::Choice::from(0), |found, token| {
                found | token.as_slice().ct_eq(presented)
            })
            .into()
    }
}

fn push(tokens: &mut Vec<String>, token: &str, origin: &str) -> Result<(), TokenError> {
    if token.is_empty() || token.starts_with('#') {
        return Ok(());
    }
    if token.len() < MIN_TOKEN_LEN {
        return Err(TokenError::TooShort {
            origin: origin.to_owned(),
        });
    }
    tokens.push(token.to_owned());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_exact_tokens() {
        let tokens = ApiTokens::new(vec![
            "a-long-secret-token-1".into(),
            "another-secret-token".into(),
        ])
        .unwrap();
        assert!(tokens.accepts("a-long-secret-token-1"));
        assert!(tokens.accepts("another-secret-token"));
        assert!(!tokens.accepts("a-long-secret-token-"));
        assert!(!tokens.accepts("a-long-secret-token-12"));
        assert!(!tokens.accepts(""));
        assert!(ApiTokens::new(Vec::new()).is_none());
    }

    #[test]
    fn files_hold_one_token_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(&file, "# newsroom\n\nthe-cms-token-0123456789\n").unwrap();
        let tokens = ApiTokens::load(Some(&file)).unwrap().unwrap();
        assert!(tokens.accepts("the-cms-token-0123456789"));
        std::fs::write(&file, "short\n").unwrap();
        let err = ApiTokens::load(Some(&file)).unwrap_err().to_string();
        assert!(
            err.contains("tokens:1: an API token must be at least 16"),
            "{err}"
        );
    }
}
