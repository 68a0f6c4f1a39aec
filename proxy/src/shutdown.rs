//! Stopping: the signal every accept loop, connection and background task watches, and
//! how long an open connection may still take once it is given.

use std::time::Duration;

use tokio::sync::watch;

/// After shutdown is signalled, how long an open connection may finish its current request.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Resolves once shutdown was signalled. (The guard `wait_for` returns is not `Send`, so
/// it must not live in a `select!` of a spawned task.)
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
