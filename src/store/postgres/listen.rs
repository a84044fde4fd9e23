//! The LISTEN connection: one dedicated connection per store that hears other
//! replicas' writes on [`CHANGE_CHANNEL`] and wakes the change-log follower.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio_postgres::{AsyncMessage, NoTls};

use super::CHANGE_CHANNEL;

/// First and longest wait between attempts to get the listening connection back.
const LISTEN_RETRY_MIN: Duration = Duration::from_millis(100);
const LISTEN_RETRY_MAX: Duration = Duration::from_secs(5);

/// TCP keepalive idle time on the listening connection: a connection that died
/// without a word (a dropped network path) is noticed within about this long.
pub(super) const KEEPALIVE_IDLE: Duration = Duration::from_secs(15);

/// The listening connection's news for the follower.
#[derive(Default)]
pub(super) struct Push {
    /// Woken by a notification, or when the listener is back after a loss:
    /// "read the change log now".
    pub(super) wake: Notify,
    /// Times the listener got its connection back after losing it.
    pub(super) epoch: AtomicU64,
}

/// Keeps a connection LISTENing on [`CHANGE_CHANNEL`] for as long as the store
/// lives, reconnecting with backoff when it is lost. `ready` fires once the
/// first LISTEN is in place; every later one bumps the push epoch.
pub(super) async fn listen(
    config: tokio_postgres::Config,
    push: Arc<Push>,
    ready: oneshot::Sender<()>,
) {
    let mut state = ListenState {
        push,
        ready: Some(ready),
    };
    let mut retry = LISTEN_RETRY_MIN;
    let mut quiet = false;
    loop {
        let (listened, reason) = listen_once(&config, &mut state).await;
        if listened {
            tracing::warn!(%reason, "lost the connection that hears other replicas' writes; reconnecting");
            retry = LISTEN_RETRY_MIN;
            quiet = false;
        } else if !quiet {
            // Once per outage: the retries that follow would only repeat it.
            tracing::warn!(%reason, "cannot listen for other replicas' writes; retrying");
            quiet = true;
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LISTEN_RETRY_MAX);
    }
}

struct ListenState {
    push: Arc<Push>,
    /// Told when the first LISTEN is in place; `None` afterwards.
    ready: Option<oneshot::Sender<()>>,
}

impl ListenState {
    fn listening(&mut self) {
        match self.ready.take() {
            Some(ready) => {
                let _ = ready.send(());
            }
            None => {
                self.push.epoch.fetch_add(1, Ordering::AcqRel);
                self.push.wake.notify_one();
                tracing::info!(
                    "listening for other replicas' writes again; retiring every feed once"
                );
            }
        }
    }
}

/// One listening session: connect, LISTEN, pass notifications on until the
/// connection ends. Returns whether LISTEN was in place, and why it ended.
async fn listen_once(config: &tokio_postgres::Config, state: &mut ListenState) -> (bool, String) {
    let (client, mut connection) = match config.connect(NoTls).await {
        Ok(pair) => pair,
        Err(error) => return (false, error.to_string()),
    };
    let sql = format!("LISTEN {CHANGE_CHANNEL}");
    let subscribe = client.batch_execute(&sql);
    tokio::pin!(subscribe);
    let mut listening = false;
    loop {
        // The connection is driven here rather than spawned, because only
        // `poll_message` hands out notifications.
        tokio::select! {
            result = &mut subscribe, if !listening => match result {
                Ok(()) => {
                    listening = true;
                    state.listening();
                }
                Err(error) => return (false, error.to_string()),
            },
            message = std::future::poll_fn(|cx| connection.poll_message(cx)) => match message {
                Some(Ok(AsyncMessage::Notification(notice))) => {
                    tracing::debug!(payload = notice.payload(), "another writer committed");
                    state.push.wake.notify_one();
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return (listening, error.to_string()),
                None => return (listening, "the server closed the connection".to_owned()),
            },
        }
    }
}
