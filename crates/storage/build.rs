//! Rebuilds the crate when a migration is added, which `embed_migrations!` does not notice alone.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
