//! Single-flight: of several identical misses in progress at once, one (the leader)
//! fetches; the others (followers) wait for it and then read the stored entry. 1,000 Nix
//! processes locking flakes that share an input therefore cost the origin one request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

/// Fetches in progress, by full cache key.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<String, watch::Receiver<Option<bool>>>>,
}

/// The caller's role for a key.
#[derive(Debug)]
pub(crate) enum Joined {
    /// Fetch it; followers wait on the guard.
    Leader(FlightGuard),
    /// Someone else is fetching: [`wait`] tells whether they stored it.
    Follower(watch::Receiver<Option<bool>>),
}

impl Flights {
    pub(crate) fn join(self: &Arc<Self>, key: &str) -> Joined {
        let mut map = self.lock();
        if let Some(rx) = map.get(key) {
            return Joined::Follower(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        map.insert(key.to_owned(), rx);
        Joined::Leader(FlightGuard {
            flights: Arc::clone(self),
            key: key.to_owned(),
            tx,
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, watch::Receiver<Option<bool>>>> {
        // Single insert/remove calls under the lock: a poisoned map is still consistent.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Held by the leader. Dropping it without [`FlightGuard::finish`] (an error, an
/// uncacheable answer, a cancelled task) tells followers "not stored".
#[derive(Debug)]
pub(crate) struct FlightGuard {
    flights: Arc<Flights>,
    key: String,
    tx: watch::Sender<Option<bool>>,
}

impl FlightGuard {
    /// The entry is in the index: followers can now read it.
    pub(crate) fn finish(self, stored: bool) {
        self.tx.send_replace(Some(stored));
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        // Removed before anyone is woken, so a request arriving from now on looks the
        // entry up itself instead of joining a finished flight.
        self.flights.lock().remove(&self.key);
        if self.tx.borrow().is_none() {
            self.tx.send_replace(Some(false));
        }
    }
}

/// Waits for the leader; true when it stored the entry.
pub(crate) async fn wait(mut rx: watch::Receiver<Option<bool>>) -> bool {
    match rx.wait_for(Option::is_some).await {
        Ok(outcome) => outcome.unwrap_or(false),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn followers_learn_the_outcome_and_the_key_is_freed() {
        let flights = Arc::new(Flights::default());
        let Joined::Leader(guard) = flights.join("k") else {
            panic!("first is leader")
        };
        let Joined::Follower(rx) = flights.join("k") else {
            panic!("second follows")
        };
        let waiter = tokio::spawn(wait(rx));
        guard.finish(true);
        assert!(waiter.await.unwrap());
        assert!(matches!(flights.join("k"), Joined::Leader(_)));
    }

    #[tokio::test]
    async fn a_dropped_leader_means_not_stored() {
        let flights = Arc::new(Flights::default());
        let Joined::Leader(guard) = flights.join("k") else {
            panic!("first is leader")
        };
        let Joined::Follower(rx) = flights.join("k") else {
            panic!("second follows")
        };
        drop(guard);
        assert!(!wait(rx).await);
    }
}
