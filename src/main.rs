//! The `hoist` binary: a thin shell over the library (see `hoist::cli`).

fn main() {
    std::process::exit(hoist::cli::main());
}
