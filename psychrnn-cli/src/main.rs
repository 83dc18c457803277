//! The `psychrnn` binary: the command line of the `psychrnn_cli` library.

fn main() -> std::process::ExitCode {
    psychrnn_cli::main(std::env::args_os())
}
