//! `cargo xtask new-migration NAME`: one timestamped folder per backend, with identical names.

use anyhow::{Context, Result, bail};

use crate::root;

/// Creates `migrations/{sqlite,postgres}/<YYYY-MM-DD-HHMMSS>_<name>/{up,down}.sql`.
pub fn create(name: &str) -> Result<()> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        bail!("a migration name is lowercase letters, digits and underscores, such as add_rotation");
    }
    let folder = format!("{}_{name}", chrono::Utc::now().format("%Y-%m-%d-%H%M%S"));
    for backend in ["sqlite", "postgres"] {
        let dir = root().join("migrations").join(backend).join(&folder);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for (file, text) in [("up.sql", "-- Apply the change.\n"), ("down.sql", "-- Undo the change.\n")] {
            std::fs::write(
                dir.join(file),
                format!("-- {backend}: {name}. Keep in step with the other backend.\n{text}"),
            )
            .with_context(|| format!("writing {}", dir.join(file).display()))?;
        }
        println!("created {}", dir.display());
    }
    Ok(())
}
