//! The `tidecast` binary: parse the command line, set up logging, run until a signal.

use clap::{Parser, Subcommand};
use tidecast_control::config::{LogFormat, ServeArgs};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "tidecast",
    version,
    about = "A whole streaming platform in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: web UI, REST API, HLS, RTMP and Icecast.
    Serve(ServeArgs),
    /// Measure every media library file again (duration, loudness, cue points), with a
    /// progress bar; tags stay as edited. Takes serve's --config, --data and --database-url; safe while the
    /// server runs.
    Rescan(ServeArgs),
    /// Write a consistent archive of the database and the media library (and with --dvr the
    /// DVR archives) to FILE; safe while the server runs.
    Backup {
        #[command(flatten)]
        args: ServeArgs,
        /// The archive to write (written beside as FILE.partial, renamed when complete).
        #[arg(long, value_name = "FILE")]
        to: std::path::PathBuf,
        /// Include the DVR archives (large; they are recordings of live streams).
        #[arg(long)]
        dvr: bool,
    },
    /// Bring a backup back into an empty data folder (and, for PostgreSQL, an empty
    /// database).
    Restore {
        #[command(flatten)]
        args: ServeArgs,
        /// The archive `tidecast backup` wrote.
        #[arg(long, value_name = "FILE")]
        from: std::path::PathBuf,
    },
}

/// Dependencies whose info lines are noise in our log.
const QUIET_DEPS: &str = "symphonia_core=warn,symphonia_bundle_mp3=warn,symphonia_bundle_flac=warn,\
symphonia_codec_aac=warn,symphonia_codec_vorbis=warn,symphonia_format_isomp4=warn,\
symphonia_format_ogg=warn,symphonia_format_riff=warn,symphonia_format_mkv=warn,symphonia_metadata=warn";

fn init_logging(format: LogFormat) {
    // TIDECAST_LOG (or RUST_LOG) picks the verbosity, e.g. `debug` or `info,tidecast_engine=debug`.
    let chosen = std::env::var("TIDECAST_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .filter(|f| EnvFilter::try_new(f).is_ok())
        .unwrap_or_else(|| "info,sqlx=warn,tower_http=info".into());
    // symphonia narrates every file it opens at info level ("using xing header…"): that
    // is not news for an operator, unless asked for by name.
    let filter = if chosen.contains("symphonia") {
        EnvFilter::new(chosen)
    } else {
        EnvFilter::new(format!("{chosen},{QUIET_DEPS}"))
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

/// Resolves on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received SIGINT"),
        () = term => tracing::info!("received SIGTERM"),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // TLS for outgoing requests (webhooks): rustls with ring, chosen once for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match cli.command {
        Command::Serve(args) => {
            let config = args.resolve()?;
            init_logging(config.log_format);
            // Read from the environment only: a password on the command line shows in `ps`.
            let admin_password = std::env::var("TIDECAST_ADMIN_PASSWORD").ok();
            let shutdown = CancellationToken::new();
            let trigger = shutdown.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                trigger.cancel();
            });
            let result = tidecast_control::server::run(config, admin_password, shutdown).await;
            if let Err(e) = &result {
                tracing::error!("{e:#}");
            }
            result
        }
        Command::Backup { args, to, dvr } => {
            let config = args.resolve()?;
            init_logging(config.log_format);
            tidecast_control::backup::backup(&config, &to, dvr).await?;
            println!("backup written to {}", to.display());
            Ok(())
        }
        Command::Restore { args, from } => {
            let config = args.resolve()?;
            init_logging(config.log_format);
            tidecast_control::backup::restore(&config, &from).await?;
            println!("restored into {}", config.data.display());
            Ok(())
        }
        Command::Rescan(args) => {
            let config = args.resolve()?;
            init_logging(config.log_format);
            tidecast_transcoder::FfmpegTranscoder::new().map_err(|e| anyhow::anyhow!(e))?;
            let db = tidecast_control::db::Db::connect(&config.database_url).await?;
            db.migrate().await?;
            let summary = tidecast_control::media::rescan::run(&db, &config.data).await?;
            println!(
                "rescanned {} of {} files; {} missing, {} unreadable",
                summary.updated,
                summary.total,
                summary.missing.len(),
                summary.unreadable.len()
            );
            for m in &summary.missing {
                println!("missing: {m}");
            }
            for u in &summary.unreadable {
                println!("unreadable: {u}");
            }
            Ok(())
        }
    }
}
