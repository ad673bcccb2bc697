//! `cratemill`: the binary. Parses the command line, runs one phase, maps its error to an exit code.

use cratemill::{cli, commands, error, fleet, install, matrix, provenance, report};

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            cratemill::note!("error: cannot start the async runtime: {e}");
            std::process::exit(error::Exit::Internal.code());
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            cli::Command::Build(args) => commands::build(*args).await,
            cli::Command::Publish(args) => commands::publish(args).await,
            cli::Command::Matrix(args) => matrix::run(args).await,
            cli::Command::Report(args) => report::run(args).await,
            cli::Command::Fleet(args) => fleet::run(args).await,
            cli::Command::Attest(args) => provenance::run(args).await,
            cli::Command::Verify(args) => provenance::verify_cmd::run(args).await,
            cli::Command::Install(args) => install::run(args).await,
        }
    });
    let code = match outcome {
        Ok(exit) => exit.code(),
        Err(err) => {
            cratemill::note!("error: {}", error::one_line(&err));
            error::exit_of(&err).code()
        }
    };
    std::process::exit(code);
}
