//! The `keyward` binary: `serve`, `init`, `migrate` and `admin`.

mod admin;
mod cli;
mod http_server;
mod master_key;
mod secret_file;
mod serve;

use anyhow::Result;
use clap::Parser;

/// What a panic logs: where it happened, never its message, which could hold a secret (a
/// formatted value, a request field).
fn panic_report(location: Option<&std::panic::Location<'_>>) -> String {
    match location {
        Some(l) => format!("a thread panicked at {}:{}:{}; its message is withheld", l.file(), l.line(), l.column()),
        None => "a thread panicked; its message is withheld".to_owned(),
    }
}

fn main() -> Result<()> {
    let cli = cli::Cli::parse();
    cli.init_logging();
    std::panic::set_hook(Box::new(|info| tracing::error!("{}", panic_report(info.location()))));
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

#[cfg(test)]
mod tests {
    /// A panic's report names the place and nothing of the message.
    #[test]
    fn a_panic_report_withholds_the_message() {
        let here = std::panic::Location::caller();
        let report = super::panic_report(Some(here));
        assert!(report.contains("main.rs") && report.contains("withheld"), "{report}");
        assert_eq!(super::panic_report(None), "a thread panicked; its message is withheld");
    }
}
