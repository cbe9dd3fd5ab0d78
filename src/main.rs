//! The `crawlium` binary: parses the configuration, sets up logging and runs a subcommand.
//! Everything else lives in the library.

use std::process::ExitCode;

use crawlium::{
    app::{App, TransportKind},
    cli,
    config::{Command, Config, CrawlCommand, LogFormat, one_line_error, parse_cli},
    doctor,
    store::Store,
    transport::{http::HttpServer, stdio},
};

fn main() -> ExitCode {
    // candle's elementwise kernels would otherwise spin a thread pool of their own beside the
    // embedding threads (search::embedder), each of which has one core's work to do. Set
    // before any thread starts.
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: the process has one thread here.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
    // `.env` fills in what the real environment does not set; a missing file is fine.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("error: cannot read .env: {error}");
        return ExitCode::from(2);
    }
    let cli = match parse_cli(std::env::args_os()) {
        Ok(cli) => cli,
        Err(error) => {
            use clap::error::ErrorKind;
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) {
                let _ = error.print();
                return ExitCode::SUCCESS;
            }
            eprintln!("{}", one_line_error(&error));
            return ExitCode::from(2);
        }
    };
    if let Err(error) = cli.config.validate() {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    if let Err(error) = init_logging(&cli.config) {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    // An error is said once: as a log line where logs are JSON (read by machines), else as
    // one line for the person at the terminal.
    let json_logs = cli.config.log_format == LogFormat::Json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(cli.config).await.map(|()| ExitCode::SUCCESS),
            Command::Migrate => migrate(cli.config).await.map(|()| ExitCode::SUCCESS),
            Command::Crawl(args) => crawl(cli.config, args).await,
            Command::Embed => embed(cli.config).await,
            Command::Doctor => {
                let checks = doctor::run(&cli.config).await;
                print!("{}", doctor::render(&checks));
                let failed = checks.iter().any(|c| c.level == doctor::Level::Fail);
                Ok(if failed {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                })
            }
        }
    });
    // Do not wait for blocking tasks (e.g. the stdin reader) that cannot be interrupted.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(code) => code,
        Err(error) => {
            if json_logs {
                tracing::error!("{error:#}");
            } else {
                eprintln!("error: {error:#}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let transport = if config.port.is_some() {
        TransportKind::Http
    } else {
        TransportKind::Stdio
    };
    let app = App::open(config, transport).await?;
    // Resume unfinished jobs (crashed, or released at the last shutdown) and watch for more.
    app.jobs.watch();
    // Launches BROWSER_POOL_MIN Chromium processes in the background; never fails start-up.
    app.browsers.start();
    // Loads the embedding model (if configured) in the background, then embeds the backlog.
    app.search.start(app.shutdown.draining().clone());
    let result = if transport == TransportKind::Http {
        let server = HttpServer::bind(app.clone()).await?;
        app.join_cluster(server.local_addr()?);
        server.serve().await
    } else {
        stdio::serve(app.clone()).await
    };
    app.jobs.shutdown(app.config.shutdown_grace()).await;
    app.browsers.shutdown().await;
    if let Some(cluster) = &app.cluster {
        cluster.deregister().await;
    }
    app.store.close().await;
    result
}

async fn crawl(config: Config, args: CrawlCommand) -> anyhow::Result<ExitCode> {
    let app = App::open(config, TransportKind::Cli).await?;
    // Chunks stored meanwhile are embedded beside the crawl (at a lower priority); what is
    // left when it ends waits for the server or `crawlium embed`.
    app.search.start(app.shutdown.draining().clone());
    let code = cli::crawl(&app, args).await;
    // The embedder stops at its next batch; what it stored is kept.
    app.shutdown.drain(std::time::Duration::ZERO).await;
    // Chromium processes a rendering crawl launched go with the command.
    app.browsers.shutdown().await;
    app.store.close().await;
    code
}

async fn embed(config: Config) -> anyhow::Result<ExitCode> {
    let app = App::open(config, TransportKind::Cli).await?;
    let code = cli::embed(&app).await;
    app.store.close().await;
    code
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let store = Store::connect(&config.database_url(), 1).await?;
    let applied = store.migrate().await?;
    println!(
        "{}: {applied} migration(s) applied, schema up to date",
        store.target()
    );
    store.close().await;
    Ok(())
}

fn init_logging(config: &Config) -> Result<(), String> {
    use tracing_subscriber::{EnvFilter, fmt};
    let filter = EnvFilter::try_new(&config.log_filter)
        .map_err(|e| format!("invalid RUST_LOG / --log '{}': {e}", config.log_filter))?;
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match config.log_format {
        LogFormat::Pretty => builder.with_ansi(false).compact().init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
    Ok(())
}
