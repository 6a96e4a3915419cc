//! Live updates: what each committed write changed, fanned out to subscribers.
//!
//! Every write announces a [`Commit`] (changed invocations, jobs and new log lines) only once it
//! is committed. On SQLite the writer hands it to the in-process channel right after `COMMIT`.
//! On PostgreSQL the writer sends `NOTIFY` inside its transaction, which PostgreSQL delivers at
//! commit, in commit order, to every server process listening — so subscribers connected to any
//! replica hear about writes made through any replica. Each process's listener loads the rows
//! named in a notification (only the kinds someone subscribes to) and publishes them locally;
//! an update therefore carries the row as the listener read it, which for a subscriber that has
//! fallen behind may already include the next writes' changes (log lines never change).
//!
//! Subscribers read from a bounded broadcast channel. A writer never waits for a subscriber:
//! one that falls more than the channel's capacity behind misses the oldest commits and is told
//! how many (see `graphql::subscription`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use entity::{invocations, job_executions, job_logs};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db::{self, Keyed};

/// How an invocation changed.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvocationChangeKind {
    /// It was reported for the first time.
    Created,
    /// It, or one of its events, jobs or log lines, changed.
    Progressed,
    /// It reached its final status (`COMPLETED` or `FAILED`).
    Completed,
}

#[derive(Debug, Clone)]
pub struct InvocationChange {
    pub kind: InvocationChangeKind,
    pub row: Arc<invocations::Model>,
}

impl InvocationChange {
    pub fn created(row: invocations::Model) -> Self {
        Self { kind: InvocationChangeKind::Created, row: Arc::new(row) }
    }

    pub fn progressed(row: invocations::Model) -> Self {
        Self { kind: InvocationChangeKind::Progressed, row: Arc::new(row) }
    }

    pub fn completed(row: invocations::Model) -> Self {
        Self { kind: InvocationChangeKind::Completed, row: Arc::new(row) }
    }
}

/// A new log line and the invocation whose job wrote it.
#[derive(Debug, Clone)]
pub struct LogChange {
    pub invocation_id: Uuid,
    pub row: Arc<job_logs::Model>,
}

/// What one committed write changed.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    pub invocations: Vec<InvocationChange>,
    pub jobs: Vec<Arc<job_executions::Model>>,
    pub logs: Vec<LogChange>,
}

impl Commit {
    pub fn is_empty(&self) -> bool {
        self.invocations.is_empty() && self.jobs.is_empty() && self.logs.is_empty()
    }
}

/// The kinds of rows subscribers can follow.
#[derive(Debug, Clone, Copy)]
pub enum Topic {
    Invocations,
    Jobs,
    Logs,
}

/// Fans committed changes out to subscribers.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

struct Inner {
    sender: broadcast::Sender<Arc<Commit>>,
    postgres: bool,
    /// Subscriptions per topic, so a listener only loads rows someone waits for.
    interest: [AtomicUsize; 3],
    /// Times a subscriber fell more than the buffer behind.
    lagged: AtomicU64,
}

/// PostgreSQL channel the writers notify.
const CHANNEL: &str = "runlens_changes";
/// PostgreSQL refuses notification payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7_900;

impl Broker {
    pub fn new(backend: DbBackend, capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self {
            inner: Arc::new(Inner {
                sender,
                postgres: backend == DbBackend::Postgres,
                interest: [AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)],
                lagged: AtomicU64::new(0),
            }),
        }
    }

    /// A stream of commits for one subscription to `topic`; interest lasts as long as the
    /// returned guard.
    pub fn subscribe(&self, topic: Topic) -> (broadcast::Receiver<Arc<Commit>>, Interest) {
        self.inner.interest[topic as usize].fetch_add(1, Ordering::Relaxed);
        (self.inner.sender.subscribe(), Interest { broker: self.clone(), topic })
    }

    /// Subscriptions being served now.
    pub fn subscriptions(&self) -> usize {
        self.inner.interest.iter().map(|n| n.load(Ordering::Relaxed)).sum()
    }

    /// Notes that a subscriber missed commits.
    pub fn lagged(&self) {
        self.inner.lagged.fetch_add(1, Ordering::Relaxed);
    }

    /// Times subscribers missed commits since the server started.
    pub fn lagged_total(&self) -> u64 {
        self.inner.lagged.load(Ordering::Relaxed)
    }

    fn wanted(&self, topic: Topic) -> bool {
        self.inner.interest[topic as usize].load(Ordering::Relaxed) > 0
    }

    /// Called inside the write transaction, before `COMMIT`: on PostgreSQL, queues the
    /// notifications that announce `commit` once it is committed.
    pub async fn stage(&self, txn: &impl ConnectionTrait, commit: &Commit) -> Result<(), DbErr> {
        if !self.inner.postgres {
            return Ok(());
        }
        // All of a commit's notifications in one statement.
        let payloads = Notice::from_commit(commit).into_payloads();
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, payload) FROM unnest($2::text[]) WITH ORDINALITY AS p(payload, n) ORDER BY n",
            [CHANNEL.into(), payloads.into()],
        ))
        .await?;
        Ok(())
    }

    /// Called after `COMMIT`: on SQLite, publishes `commit` (on PostgreSQL the listener does).
    pub fn committed(&self, commit: Commit) {
        if !self.inner.postgres {
            self.publish(commit);
        }
    }

    fn publish(&self, commit: Commit) {
        // An error only means nobody is subscribed.
        let _ = self.inner.sender.send(Arc::new(commit));
    }

    /// On PostgreSQL, starts listening for the notifications of every writer (this process's
    /// and other replicas') until `stop`, publishing what they announce and reconnecting after
    /// errors. Returns once the first `LISTEN` is in place (or after a few seconds if the
    /// database cannot be reached yet), so no write after startup goes unheard.
    pub async fn start_listener(&self, db: DatabaseConnection, stop: CancellationToken) -> JoinHandle<()> {
        let (ready, listening) = oneshot::channel();
        let task = tokio::spawn(self.clone().listen(db, stop, ready));
        if self.inner.postgres && tokio::time::timeout(Duration::from_secs(5), listening).await.is_err() {
            tracing::warn!("change listener not ready yet; subscriptions start once the database answers");
        }
        task
    }

    async fn listen(self, db: DatabaseConnection, stop: CancellationToken, ready: oneshot::Sender<()>) {
        if !self.inner.postgres {
            return;
        }
        let mut ready = Some(ready);
        loop {
            let result = tokio::select! {
                () = stop.cancelled() => return,
                result = self.listen_once(&db, &stop, &mut ready) => result,
            };
            if let Err(err) = result {
                tracing::warn!(error = %err, "change listener failed; reconnecting");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    async fn listen_once(
        &self,
        db: &DatabaseConnection,
        stop: &CancellationToken,
        ready: &mut Option<oneshot::Sender<()>>,
    ) -> Result<(), anyhow::Error> {
        let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(db.get_postgres_connection_pool()).await?;
        listener.listen(CHANNEL).await?;
        tracing::debug!("listening for changes");
        if let Some(ready) = ready.take() {
            let _ = ready.send(());
        }
        loop {
            let notification = tokio::select! {
                () = stop.cancelled() => return Ok(()),
                n = listener.recv() => n?,
            };
            let notice: Notice = match serde_json::from_str(notification.payload()) {
                Ok(notice) => notice,
                Err(err) => {
                    tracing::warn!(error = %err, "ignoring a malformed change notification");
                    continue;
                }
            };
            let commit = self.load(db, notice).await?;
            if !commit.is_empty() {
                self.publish(commit);
            }
        }
    }

    /// Loads the rows a notification names, for the topics someone subscribes to.
    async fn load(&self, db: &DatabaseConnection, notice: Notice) -> Result<Commit, DbErr> {
        let mut commit = Commit::default();
        if self.wanted(Topic::Invocations) && !notice.i.is_empty() {
            let ids: Vec<Uuid> = notice.i.iter().map(|(id, _)| *id).collect();
            let rows = by_ids::<invocations::Entity>(db, &ids).await?;
            for (id, kind) in notice.i {
                if let Some(row) = rows.iter().find(|r| r.id == id) {
                    commit.invocations.push(InvocationChange { kind, row: Arc::new(row.clone()) });
                }
            }
        }
        if self.wanted(Topic::Jobs) && !notice.j.is_empty() {
            commit.jobs = by_ids::<job_executions::Entity>(db, &notice.j).await?.into_iter().map(Arc::new).collect();
        }
        if self.wanted(Topic::Logs) && !notice.l.is_empty() {
            let ids: Vec<Uuid> = notice.l.iter().map(|(id, _)| *id).collect();
            let mut rows: std::collections::HashMap<Uuid, job_logs::Model> =
                by_ids::<job_logs::Entity>(db, &ids).await?.into_iter().map(|r| (r.id, r)).collect();
            commit.logs = notice
                .l
                .into_iter()
                .filter_map(|(id, invocation_id)| {
                    rows.remove(&id).map(|row| LogChange { invocation_id, row: Arc::new(row) })
                })
                .collect();
        }
        Ok(commit)
    }
}

async fn by_ids<E: Keyed>(db: &DatabaseConnection, ids: &[Uuid]) -> Result<Vec<E::Model>, DbErr> {
    db::related::by_ids::<E>(db, ids).await
}

/// Keeps a topic wanted while a subscription lives.
pub struct Interest {
    broker: Broker,
    topic: Topic,
}

impl Drop for Interest {
    fn drop(&mut self) {
        self.broker.inner.interest[self.topic as usize].fetch_sub(1, Ordering::Relaxed);
    }
}

/// The ids a notification carries.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Notice {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    i: Vec<(Uuid, InvocationChangeKind)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    j: Vec<Uuid>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    l: Vec<(Uuid, Uuid)>,
}

impl Notice {
    fn from_commit(commit: &Commit) -> Self {
        Notice {
            i: commit.invocations.iter().map(|c| (c.row.id, c.kind)).collect(),
            j: commit.jobs.iter().map(|j| j.id).collect(),
            l: commit.logs.iter().map(|l| (l.row.id, l.invocation_id)).collect(),
        }
    }

    /// Splits into payloads under PostgreSQL's size limit, in order.
    fn into_payloads(self) -> Vec<String> {
        let mut payloads = Vec::new();
        pack(&mut payloads, "i", &self.i);
        pack(&mut payloads, "j", &self.j);
        pack(&mut payloads, "l", &self.l);
        payloads
    }
}

/// Appends `{"key":[…]}` payloads holding `entries`, each payload under `MAX_PAYLOAD` bytes.
fn pack<T: Serialize>(payloads: &mut Vec<String>, key: &str, entries: &[T]) {
    let open = format!("{{\"{key}\":[");
    let mut current = open.clone();
    for entry in entries {
        let Ok(entry) = serde_json::to_string(entry) else { continue };
        if current.len() > open.len() && current.len() + entry.len() + 3 > MAX_PAYLOAD {
            current.push_str("]}");
            payloads.push(std::mem::replace(&mut current, open.clone()));
        }
        if current.len() > open.len() {
            current.push(',');
        }
        current.push_str(&entry);
    }
    if current.len() > open.len() {
        current.push_str("]}");
        payloads.push(current);
    }
}
