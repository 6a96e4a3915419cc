//! Serving HTTP connections on a runtime per thread.
//!
//! A GraphQL request waits on the database once per level of its query (four times for the
//! dashboard query). On tokio's work-stealing runtime each of those waits handed the request to
//! the other worker thread: the thread that sent a statement parked, the one that held the I/O
//! driver took the answer and went on with the request, and each hand-over woke a thread. With
//! two cores that was 14 context switches per dashboard request instead of 7, and the request
//! took 0.2–0.3 ms longer at concurrency 1 (see the README's benchmark figures).
//!
//! Here each request thread runs its own single-threaded runtime, and a connection lives on one
//! of them from accept to close: the main runtime accepts and deals connections out in turn.
//! On PostgreSQL each request thread also has a pool of its own ([`db::on_this_thread`]), so a
//! request's statements and their answers never leave the thread either. Work that is not a
//! request (the rollup, pruning, the LISTEN connection of subscriptions) stays on the main
//! runtime.
//!
//! Connections are dealt out in turn rather than by load: HTTP/1.1 clients and load balancers
//! keep connections open and spread their requests over them, and the threads are alike.

use std::future::IntoFuture;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use sea_orm::DatabaseConnection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::db;

/// How the request threads serve, and when they stop.
#[derive(Clone)]
pub struct Serving {
    pub router: Router,
    /// Request threads; 0 means one per CPU core.
    pub threads: usize,
    /// The shared database, whose settings the request threads' own pools take.
    pub db: DatabaseConnection,
    /// Where the request threads register their pools.
    pub pools: db::ThreadPools,
    /// The WebSocket connections, which a request thread waits for (up to the grace period)
    /// before it ends, as they end with its runtime.
    pub sockets: TaskTracker,
    /// Cancelled when the server begins to shut down.
    pub closing: CancellationToken,
    /// How long in-flight requests may go on after `closing`.
    pub grace: Duration,
}

/// How the request threads ended.
#[derive(Clone, Copy, Debug)]
pub struct Stopped {
    /// Every HTTP request finished within the grace period.
    pub in_time: bool,
    /// Every WebSocket connection closed within the grace period.
    pub sockets_closed: bool,
}

/// Serves the connections `listener` accepts until `closing` is cancelled and the request
/// threads have finished their requests, or the grace period ran out.
pub async fn serve(listener: TcpListener, serving: Serving) -> io::Result<Stopped> {
    let address = listener.local_addr()?;
    let count = match serving.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let mut queues = Vec::with_capacity(count);
    let mut finished = Vec::with_capacity(count);
    for index in 0..count {
        let (queue, incoming) = mpsc::unbounded_channel();
        let (done, stopped) = oneshot::channel();
        // Built here, so a runtime that cannot be built fails the start.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let thread = RequestThread {
            incoming: Incoming { connections: incoming, address },
            index,
            threads: count,
            serving: serving.clone(),
        };
        std::thread::Builder::new().name(format!("runlens-requests-{index}")).spawn(move || {
            let _ = done.send(thread.run(runtime));
        })?;
        queues.push(queue);
        finished.push(stopped);
    }

    let mut next = 0;
    loop {
        let accepted = tokio::select! {
            () = serving.closing.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted.and_then(|(stream, _)| stream.into_std()) {
            // A thread whose queue is closed has stopped; the connection is dropped with it.
            Ok(stream) => {
                let _ = queues[next].send(stream);
                next = (next + 1) % count;
            }
            Err(err) => accept_failed(err).await,
        }
    }
    drop(listener);

    let mut all = Stopped { in_time: true, sockets_closed: true };
    for stopped in finished {
        match stopped.await {
            Ok(stopped) => {
                all.in_time &= stopped.in_time;
                all.sockets_closed &= stopped.sockets_closed;
            }
            Err(_) => tracing::error!("a request thread panicked"),
        }
    }
    Ok(all)
}

/// Waits after a failed accept: at once for errors of the one connection, a moment for errors
/// of the process (out of file descriptors) so the loop does not spin, as axum's server does.
async fn accept_failed(err: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(err.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %err, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

struct RequestThread {
    incoming: Incoming,
    /// This thread's place among `threads`.
    index: usize,
    threads: usize,
    serving: Serving,
}

impl RequestThread {
    /// Serves this thread's connections until they are done or the grace period is over.
    fn run(self, runtime: tokio::runtime::Runtime) -> Stopped {
        let Serving { router, db, pools, sockets, closing, grace, .. } = self.serving;
        runtime.block_on(async move {
            db::use_own_pool_on_this_thread(&db, &pools, self.index, self.threads);
            let served = axum::serve(self.incoming, router)
                .with_graceful_shutdown(closing.clone().cancelled_owned())
                .into_future();
            let deadline = async {
                closing.cancelled().await;
                tokio::time::sleep(grace).await;
            };
            let in_time = tokio::select! {
                served = served => {
                    // axum's server ends only when its shutdown signal fires.
                    if let Err(err) = served {
                        tracing::error!(error = %err, "serving failed");
                    }
                    true
                }
                () = deadline => false,
            };
            // WebSocket connections run in tasks of their own on this runtime: give them the
            // grace period to send their close frames (`closing` told them to).
            sockets.close();
            let sockets_closed = tokio::time::timeout(grace, sockets.wait()).await.is_ok();
            pools.set(self.index, None);
            Stopped { in_time, sockets_closed }
        })
        // Dropping the runtime ends the connections still open.
    }
}

/// The connections dealt to one request thread, as a listener axum can serve.
struct Incoming {
    connections: mpsc::UnboundedReceiver<std::net::TcpStream>,
    address: SocketAddr,
}

impl axum::serve::Listener for Incoming {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let Some(stream) = self.connections.recv().await else {
                // The acceptor has stopped: no more connections, ever.
                return std::future::pending().await;
            };
            // Registered with this thread's runtime, so its wake-ups stay here.
            match stream.set_nonblocking(true).and_then(|()| TcpStream::from_std(stream)) {
                Ok(stream) => match stream.peer_addr() {
                    Ok(peer) => return (stream, peer),
                    Err(err) => tracing::debug!(error = %err, "connection closed before it was served"),
                },
                Err(err) => tracing::error!(error = %err, "cannot serve an accepted connection"),
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.address)
    }
}
