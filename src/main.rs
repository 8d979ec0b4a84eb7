//! The `migmerge` binary: parse the command line, run the command, print, exit.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use migmerge::cli::{Cli, Command};
use migmerge::commands::{self, ExitStatus};

fn main() -> ExitCode {
    // First, while this is the only thread: the limits are unsynchronized globals.
    migmerge::allocator::share_arenas();
    migmerge::source::limit_git_memory();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version are not failures; a refused `check` line still answers a script
            // that asked for JSON or annotations.
            if error.use_stderr() {
                let args: Vec<String> = std::env::args_os()
                    .map(|arg| arg.to_string_lossy().into_owned())
                    .collect();
                let message = error.render().to_string();
                if let Some(text) = commands::check::argument_error_output(&args, &message) {
                    let _ = std::io::stdout().lock().write_all(text.as_bytes());
                }
            }
            error.exit()
        }
    };
    let result = match &cli.command {
        Command::Check(args) => commands::check::run(args),
        Command::Lint(args) => commands::lint::run(args),
        Command::Graph(args) => commands::graph::run(args),
        Command::Apps(args) => commands::apps::run(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Resolve(args) => commands::resolve::run(args),
        Command::Install(args) => commands::install::install(args),
        Command::Uninstall(args) => commands::install::uninstall(args),
        Command::Completions(args) => commands::completions::run(args),
        Command::Man => commands::man::run(),
        Command::Hook(args) => commands::hook::run(args),
        Command::RunHook(args) => commands::hook::run_file(args),
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
            // Scripts that read `check`'s JSON or annotations get the failure in that form too.
            if let Command::Check(args) = &cli.command
                && let Some(text) = commands::check::error_output(args, &error)
            {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout
                    .write_all(text.as_bytes())
                    .and_then(|()| stdout.flush());
            }
            ExitStatus::Error.into()
        }
    }
}
