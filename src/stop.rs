//! Stopping the server: on SIGINT/SIGTERM, or remotely through the
//! `stop_remote_server` method and `Stop Remote Server` keyword when the
//! server was started with `--allow-stop`.

use std::sync::Arc;

use rpa_mfa_keywords::{Keyword, Type, Value};
use tokio::sync::watch;

#[derive(Clone)]
pub struct StopSwitch {
    remote_allowed: bool,
    stopping: Arc<watch::Sender<bool>>,
}

impl StopSwitch {
    pub fn new(remote_allowed: bool) -> StopSwitch {
        StopSwitch {
            remote_allowed,
            stopping: Arc::new(watch::channel(false).0),
        }
    }

    /// A remote stop request: honoured only with `--allow-stop`.
    pub fn request(&self) -> bool {
        if self.remote_allowed {
            self.stop();
        } else {
            tracing::warn!("refused a remote stop request (start with --allow-stop to allow it)");
        }
        self.remote_allowed
    }

    /// Stops the server: calls in flight finish, new ones are refused.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Whether a stop was asked for.
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Resolves once a stop was asked for.
    pub async fn stopped(&self) {
        let mut rx = self.stopping.subscribe();
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    /// The `Stop Remote Server` keyword, the remote server convention.
    pub fn keyword(&self) -> Keyword {
        let switch = self.clone();
        Keyword::new("Stop Remote Server")
            .returns(Type::Bool)
            .tags(&["server"])
            .doc(
                "Stops the remote server after the calls in flight finish, and returns \
True. A server started without ``--allow-stop`` keeps running, returns False and \
logs a warning.",
            )
            .handler(move |call| {
                let switch = switch.clone();
                async move {
                    let stopped = switch.request();
                    if !stopped {
                        call.output
                            .warn("This Robot Framework remote server does not allow stopping (start it with --allow-stop).");
                    }
                    Ok(Value::Bool(stopped))
                }
            })
    }
}
