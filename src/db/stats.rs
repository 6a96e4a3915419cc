//! SQL statement accounting: how many statements a request ran and how long they took.
//!
//! SeaORM reports every statement to a metric callback in the task that awaited it. A request
//! handler runs its work inside [`measure`], which gives the task a fresh tally; loader batches
//! run in the request's own task (see `graphql::loaders`), so the tally covers every level.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::DatabaseConnection;

tokio::task_local! {
    static TALLY: Arc<Tally>;
}

/// Statements run while measuring, and their total time.
#[derive(Debug, Default)]
pub struct Tally {
    statements: AtomicU64,
    micros: AtomicU64,
}

impl Tally {
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.micros.load(Ordering::Relaxed))
    }
}

/// Runs `work`, counting the SQL statements it runs.
pub async fn measure<F: Future>(work: F) -> (F::Output, Arc<Tally>) {
    let tally = Arc::new(Tally::default());
    let output = TALLY.scope(tally.clone(), work).await;
    (output, tally)
}

/// Makes `db` report its statements to the tally of whichever task runs them.
pub fn install(db: &mut DatabaseConnection) {
    db.set_metric_callback(|info| record(info.elapsed));
}

/// Counts a statement that took `elapsed` in the tally of the task that ran it (for statements
/// run past SeaORM's executor, see `db::request`).
pub fn record(elapsed: Duration) {
    let _ = TALLY.try_with(|tally| {
        tally.statements.fetch_add(1, Ordering::Relaxed);
        tally.micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    });
}
