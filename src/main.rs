//! The `migmerge` binary: parse the command line, run the command, print, exit.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use migmerge::cli::{Cli, Command};
use migmerge::commands::{self, ExitStatus};

fn main() -> ExitCode {
    // First, while this is the only thread: the limits are unsynchronized globals.
    migmerge::source::limit_git_memory();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Check(args) => commands::check::run(args),
        Command::Lint(args) => commands::lint::run(args),
        Command::Graph(args) => commands::graph::run(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Resolve(args) => commands::resolve::run(args),
        Command::Install(args) => commands::install::install(args),
        Command::Uninstall(args) => commands::install::uninstall(args),
        Command::Completions(args) => commands::completions::run(args),
        Command::Man => commands::man::run(),
        Command::Hook(args) => commands::hook::run(args),
        Command::MergeDriver(args) => commands::merge_driver::run(args),
    };
    match result {
        Ok(outcome) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`migmerge graph | head`) is the reader's choice, not a failure.
            match stdout
                .write_all(outcome.stdout.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => outcome.status.into(),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(_) => ExitStatus::Error.into(),
            }
        }
        Err(error) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("migmerge: error: {error:#}");
            }
            ExitStatus::Error.into()
        }
    }
}
