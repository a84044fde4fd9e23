//! What other servers post to an account's inbox (or the shared one). Every
//! POST must carry a valid HTTP signature by the actor it claims to come
//! from; then `Follow`, `Undo` of a follow and `Delete` of a follower's
//! account change who follows, and everything else is accepted and ignored.

use std::sync::Arc;
use std::time::Duration;

use hyper::header::HeaderMap;
use hyper::{Method, StatusCode, Uri};
use serde_json::Value;

use super::message_signature;
use super::signature::{self, Received, Refusal};
use super::{Fedi, FetchError, documents};
use crate::config::{Config, Language};
use crate::store::{ArticleStore, Follower};
use crate::urls;

/// How an inbox POST was answered, with a line that says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: StatusCode,
    pub reason: String,
}

impl Answer {
    fn new(status: StatusCode, reason: impl Into<String>) -> Answer {
        Answer {
            status,
            reason: reason.into(),
        }
    }

    fn accepted(reason: impl Into<String>) -> Answer {
        Answer::new(StatusCode::ACCEPTED, reason)
    }
}

/// A POST to an inbox, already read (within `max_inbox_bytes`).
pub struct Post<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// The language whose personal inbox it was posted to; `None` for the
    /// shared inbox.
    pub lang: Option<usize>,
}

/// Checks `post`'s signature and acts on its activity.
pub async fn receive<S: ArticleStore>(fedi: &Arc<Fedi>, store: &Arc<S>, post: Post<'_>) -> Answer {
    let received = Received {
        method: post.method,
        uri: post.uri,
        headers: post.headers,
        body: post.body,
    };
    let window = Duration::from_secs(fedi.config.activitypub.signature_window_secs.get());
    let checked = if message_signature::is_used(post.headers) {
        message_signature::check(&received, fedi.scheme(), window)
    } else {
        signature::parse(post.headers)
            .and_then(|signature| Ok((received.check(&signature, window)?, signature)))
            .map(|(base, signature)| (signature, base))
    };
    let (signature, signing_string) = match checked {
        Ok(checked) => checked,
        Err(refusal) => return refused(&refusal),
    };
    let activity: Value = match serde_json::from_slice(post.body) {
        Ok(Value::Object(map)) => Value::Object(map),
        Ok(_) => return Answer::new(StatusCode::BAD_REQUEST, "the body is not a JSON object"),
        Err(e) => {
            return Answer::new(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {e}"),
            );
        }
    };
    let kind = activity.get("type").and_then(Value::as_str).unwrap_or("");
    let Some(actor) = id_of(activity.get("actor")) else {
        return Answer::new(StatusCode::BAD_REQUEST, "the activity names no actor");
    };
    let signer = match signer(fedi, &**store, &signature, &signing_string).await {
        Ok(signer) => signer,
        // A deleted account's key is gone with it: its Delete cannot be
        // verified, and the only thing it could do is end its own following.
        Err(SignerError::Fetch(error))
            if kind == "Delete"
                && error.is_gone()
                && signature.key_id.split('#').next() == Some(actor.as_str())
                && id_of(activity.get("object")).as_deref() == Some(actor.as_str()) =>
        {
            return forget(store, actor).await;
        }
        Err(error) => return Answer::new(StatusCode::UNAUTHORIZED, error.to_string()),
    };
    if signer != actor {
        return Answer::new(
            StatusCode::UNAUTHORIZED,
            format!("signed by {signer}, not by the activity's actor {actor}"),
        );
    }
    let config = &fedi.config;
    match kind {
        "Follow" => follow(fedi, store, post.lang, &activity, actor).await,
        "Undo" => undo(config, store, post.lang, &activity, actor).await,
        "Delete" if id_of(activity.get("object")).as_deref() == Some(actor.as_str()) => {
            forget(store, actor).await
        }
        _ => Answer::accepted(format!("{kind:?} is accepted and ignored")),
    }
}

fn refused(refusal: &Refusal) -> Answer {
    let status = match refusal {
        Refusal::DigestMismatch | Refusal::NoDigest => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNAUTHORIZED,
    };
    Answer::new(status, refusal.to_string())
}

#[derive(Debug, thiserror::Error)]
enum SignerError {
    #[error("cannot get the signing key: {0}")]
    Fetch(FetchError),
    #[error(transparent)]
    Refused(Refusal),
}

/// The actor whose key signed `signing_string`; the key is fetched again
/// once when the cached one does not verify (the sender rotated it).
async fn signer<S: ArticleStore>(
    fedi: &Fedi,
    store: &S,
    signature: &signature::Signature,
    signing_string: &str,
) -> Result<String, SignerError> {
    for fresh in [false, true] {
        let key = fedi
            .remote_key(store, &signature.key_id, fresh)
            .await
            .map_err(SignerError::Fetch)?;
        if signature::verifies(
            &key.der,
            signature.alg,
            signing_string,
            &signature.signature,
        ) {
            return Ok(key.owner.clone());
        }
    }
    Err(SignerError::Refused(Refusal::Invalid(
        signature.key_id.clone(),
    )))
}

/// The id of an ActivityStreams reference: a string, or an object's `id`.
fn id_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(id) => Some(id.clone()),
        Value::Object(object) => object.get("id")?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// The account an actor id names.
fn account<'a>(config: &'a Config, actor: &str) -> Option<(usize, &'a Language)> {
    config
        .languages
        .iter()
        .enumerate()
        .find(|(_, l)| urls::actor_url(config, l.account_name()) == actor)
}

/// The account a `Follow` (or its `Undo`) is for: its object, which must be
/// the inbox's own account when posted to a personal inbox.
fn followed<'a>(
    config: &'a Config,
    inbox: Option<usize>,
    follow: &Value,
) -> Result<(usize, &'a Language), Answer> {
    let object = id_of(follow.get("object"))
        .ok_or_else(|| Answer::new(StatusCode::BAD_REQUEST, "the Follow names no object"))?;
    let (index, lang) = account(config, &object).ok_or_else(|| {
        Answer::new(
            StatusCode::NOT_FOUND,
            format!("{object} is no account of this site"),
        )
    })?;
    if inbox.is_some_and(|i| i != index) {
        return Err(Answer::new(
            StatusCode::BAD_REQUEST,
            format!("{object} is not this inbox's account"),
        ));
    }
    Ok((index, lang))
}

async fn follow<S: ArticleStore>(
    fedi: &Arc<Fedi>,
    store: &Arc<S>,
    inbox: Option<usize>,
    activity: &Value,
    actor: String,
) -> Answer {
    let config = &fedi.config;
    let (index, lang) = match followed(config, inbox, activity) {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    // Where to deliver: the follower's own document says, not the activity.
    let document = match fedi.fetch(&**store, &actor).await {
        Ok(document) => document,
        Err(error) => {
            return Answer::new(
                StatusCode::BAD_REQUEST,
                format!("cannot read the follower's actor: {error}"),
            );
        }
    };
    if id_of(Some(&document)).as_deref() != Some(actor.as_str()) {
        return Answer::new(
            StatusCode::BAD_REQUEST,
            "the follower's document has another id",
        );
    }
    let Some(personal) = document.get("inbox").and_then(Value::as_str) else {
        return Answer::new(StatusCode::BAD_REQUEST, "the follower has no inbox");
    };
    let shared = document
        .get("endpoints")
        .and_then(|e| e.get("sharedInbox"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let follower = Follower {
        lang: lang.code().to_owned(),
        actor: actor.clone(),
        inbox: personal.to_owned(),
        shared_inbox: shared,
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    if let Err(error) = store.follow(follower, now_ms).await {
        tracing::error!(%error, "cannot record a follower");
        return Answer::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "cannot record the follow now",
        );
    }
    let follow_id = id_of(Some(activity)).unwrap_or_default();
    let accept = documents::accept(config, lang, activity, &follow_id);
    let from = urls::actor_url(config, lang.account_name());
    tokio::spawn(send_accept(
        Arc::clone(fedi),
        Arc::clone(store),
        from,
        personal.to_owned(),
        accept,
    ));
    tracing::info!(account = lang.account_name(), follower = %actor, lang = index, "followed");
    Answer::accepted("followed")
}

/// Tries to deliver an `Accept` a few times, backing off: the follower's
/// server may be busy the moment it sent the `Follow`.
async fn send_accept<S: ArticleStore>(
    fedi: Arc<Fedi>,
    store: Arc<S>,
    from: String,
    inbox: String,
    accept: Value,
) {
    for wait in [0, 2, 10, 60] {
        tokio::time::sleep(Duration::from_secs(wait)).await;
        match fedi.post(&*store, &from, &inbox, &accept).await {
            Ok(status) if status.is_success() => return,
            Ok(status) => tracing::warn!(%inbox, %status, "Accept refused"),
            Err(error) => tracing::warn!(%inbox, %error, "Accept not delivered"),
        }
    }
}

async fn undo<S: ArticleStore>(
    config: &Config,
    store: &Arc<S>,
    inbox: Option<usize>,
    activity: &Value,
    actor: String,
) -> Answer {
    let Some(object) = activity.get("object") else {
        return Answer::new(StatusCode::BAD_REQUEST, "the Undo names no object");
    };
    if object.get("type").and_then(Value::as_str) != Some("Follow") {
        return Answer::accepted("an Undo of something else is accepted and ignored");
    }
    if id_of(object.get("actor")).as_deref() != Some(actor.as_str()) {
        return Answer::new(StatusCode::BAD_REQUEST, "an Undo of someone else's Follow");
    }
    let (_, lang) = match followed(config, inbox, object) {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    match store.unfollow(lang.code().to_owned(), actor).await {
        Ok(_) => Answer::accepted("unfollowed"),
        Err(error) => {
            tracing::error!(%error, "cannot remove a follower");
            Answer::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot record the Undo now",
            )
        }
    }
}

async fn forget<S: ArticleStore>(store: &Arc<S>, actor: String) -> Answer {
    match store.forget_follower(actor).await {
        Ok(_) => Answer::accepted("the account is forgotten"),
        Err(error) => {
            tracing::error!(%error, "cannot forget a deleted follower");
            Answer::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot record the Delete now",
            )
        }
    }
}
