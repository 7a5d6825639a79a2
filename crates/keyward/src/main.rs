//! The `keyward` binary: `serve`, `init`, `migrate` and `admin`.

mod admin;
mod cli;
mod http_server;
mod master_key;
mod secret_file;
mod serve;

use anyhow::Result;
use clap::Parser;

fn main() -> Result<()> {
    let cli = cli::Cli::parse();
    cli.init_logging();
    match cli.command {
        cli::Command::Serve(args) => serve::serve(&cli.common, &args),
        cli::Command::Init => serve::init(&cli.common),
        cli::Command::Migrate => serve::migrate(&cli.common),
        cli::Command::Admin(cli::AdminArgs { command: cli::AdminCommand::ResetKey { revoke_old }, .. }) => {
            serve::reset_key(&cli.common, revoke_old)
        }
        cli::Command::Admin(cli::AdminArgs { command: cli::AdminCommand::RotateMasterKey, .. }) => {
            serve::rotate_master_key(&cli.common)
        }
        cli::Command::Admin(args) => serve::admin(&cli.common, args),
    }
}
