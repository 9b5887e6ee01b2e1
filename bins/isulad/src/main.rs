//! isulad (filled in by its issue).

fn main() {
    eprintln!("isulad: not built yet");
    std::process::exit(1);
}
