//! The loop every background task runs: a piece of work on a schedule, until the server stops.

use std::future::Future;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Runs `work` at `first` and then every `interval` (a run that overruns delays the next one
/// rather than bunching them), until `stop`. A run in progress when `stop` fires is dropped, so
/// its open transaction rolls back.
pub async fn every<F: Future<Output = ()>>(
    first: Instant,
    interval: Duration,
    stop: CancellationToken,
    mut work: impl FnMut() -> F,
) {
    let mut ticks = tokio::time::interval_at(first, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = work() => {}
        }
    }
}
