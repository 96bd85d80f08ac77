//! Serves one simulated cloud on 127.0.0.1 and prints one JSON line describing it.

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Cloud {
    Triton,
    Oxide,
    Osc,
}

/// Run a simulated cloud API on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "imagebake-sim", version)]
struct Args {
    /// Which cloud to simulate.
    #[arg(long, value_enum)]
    cloud: Cloud,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Oxide only: the newest `api-version` the rack accepts (newer ones get
    /// 400), e.g. an older rack's `2026010300.0.0`.
    #[arg(long, value_name = "X.Y.Z")]
    oxide_api_version: Option<String>,
    /// Random faults on every request: `KIND:RATIO,...` with KIND `429`, a
    /// 5xx status or `drop` (half dropped before the operation is done,
    /// half after), e.g. `429:0.1,503:0.1,drop:0.05`.
    #[arg(long, value_name = "SPEC")]
    chaos: Option<String>,
    /// Seed of the `--chaos` draws.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "chaos")]
    chaos_seed: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if args.oxide_api_version.is_some() && !matches!(args.cloud, Cloud::Oxide) {
        return Err("--oxide-api-version applies to --cloud oxide only".into());
    }
    let chaos = match args
        .chaos
        .as_deref()
        .map(|spec| imagebake_sim::Chaos::parse(spec, args.chaos_seed))
        .transpose()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("imagebake-sim: --chaos: {e}");
            std::process::exit(2);
        }
    };
    // Each serves until Ctrl-C, after printing one JSON line on stdout.
    match args.cloud {
        Cloud::Triton => imagebake_sim::triton::serve_cli(args.port, chaos).await?,
        Cloud::Oxide => {
            imagebake_sim::oxide::serve_cli(args.port, args.oxide_api_version, chaos).await?;
        }
        Cloud::Osc => imagebake_sim::osc::serve_cli(args.port, chaos).await?,
    }
    Ok(())
}
