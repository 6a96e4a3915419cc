use clap::Parser;
use runlens::analytics::rollup;
use runlens::app::Application;
use runlens::config::{Cli, Command, ServeConfig};
use runlens::{db, graphql, retention, seed, telemetry};

// mimalloc: a GraphQL response allocates a future and a map per field; glibc's allocator spent
// a quarter of the server's CPU on that under load, mimalloc a fraction.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(&cli.telemetry);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if cli.worker_threads > 0 {
        runtime.worker_threads(cli.worker_threads);
    }
    runtime.enable_all().build()?.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or_else(|| Command::Serve(ServeConfig::from_env()));
    match command {
        Command::Serve(config) => Application::build(&cli.database, config).await?.run_until_stopped().await?,
        Command::Migrate => {
            db::migrate(&db::connect(&cli.database).await?).await?;
            tracing::info!("migrations applied");
        }
        Command::Schema => print!("{}", graphql::sdl()),
        Command::Rollup(command) => {
            let db = db::connect(&cli.database).await?;
            db::migrate(&db).await?;
            let started = std::time::Instant::now();
            let writer = db::WriteLock::for_backend(db::backend(&db));
            let report = match (command.from, command.to) {
                (Some(from), Some(to)) => rollup::rebuild(&db, &writer, from, to).await?,
                _ => rollup::refresh_once(&db, &writer, command.rollup.overlap()).await?,
            };
            if report.skipped {
                tracing::warn!("another server is running the rollup; nothing done");
            } else {
                tracing::info!(
                    groups = report.groups,
                    rows_written = report.rows_written,
                    seconds = started.elapsed().as_secs_f64(),
                    "rollup done"
                );
            }
        }
        Command::Prune(config) => {
            let db = db::connect(&cli.database).await?;
            db::migrate(&db).await?;
            let started = std::time::Instant::now();
            let writer = db::WriteLock::for_backend(db::backend(&db));
            let report = retention::prune_once(&db, &writer, &config, chrono::Utc::now()).await?;
            if report.skipped {
                tracing::warn!(
                    invocations = report.invocations,
                    rollup_rows = report.rollup_rows,
                    "another server is pruning; stopped"
                );
            } else {
                tracing::info!(
                    invocations = report.invocations,
                    rollup_rows = report.rollup_rows,
                    batches = report.batches,
                    seconds = started.elapsed().as_secs_f64(),
                    "pruning done"
                );
            }
        }
        Command::Seed(config) => {
            let db = db::connect(&cli.database).await?;
            db::migrate(&db).await?;
            let plan = seed::SeedPlan::from_config(&config);
            let started = std::time::Instant::now();
            let report = seed::run(&db, &plan).await?;
            tracing::info!(
                invocations = report.invocations,
                event_executions = report.event_executions,
                job_executions = report.job_executions,
                job_logs = report.job_logs,
                seconds = started.elapsed().as_secs_f64(),
                random_seed = plan.random_seed,
                "demo data inserted"
            );
        }
    }
    Ok(())
}
