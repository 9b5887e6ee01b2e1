//! isula (filled in by its issue).

fn main() {
    eprintln!("isula: not built yet");
    std::process::exit(1);
}
