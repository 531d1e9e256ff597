//! The `aligntraj` binary: parse arguments, run, and report an error on one line.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let result = cli::run(args);
    let Err(err) = result else {
        return ExitCode::SUCCESS;
    };
    aligntraj::io::remove_temporary_files();
    // `aligntraj … | head`: a closed pipe is the reader's choice, not a failure.
    let broken_pipe = err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {}", aligntraj::text::one_line(&format!("{err:#}")));
    ExitCode::FAILURE
}
