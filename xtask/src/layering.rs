//! The layering rules `cargo xtask lint` checks beyond the compiler: the HTTP faces know no
//! database, a dialect stands alone, and no two source files import each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::root;

/// The crates that speak HTTP: they reach storage only through the domain's traits.
const HTTP_CRATES: &[&str] = &["web", "api", "dialects", "console"];

/// What an HTTP crate must never depend on.
const DATABASE_CRATES: &[&str] = &["storage", "diesel", "diesel_migrations", "libsqlite3-sys", "pq-sys"];

/// Runs every layering check.
pub fn check() -> Result<()> {
    http_crates_know_no_database()?;
    dialects_stand_alone()?;
    no_files_import_each_other()
}

fn http_crates_know_no_database() -> Result<()> {
    for krate in HTTP_CRATES {
        let found = crate::ci::dependencies_among(krate, DATABASE_CRATES)?;
        if !found.is_empty() {
            bail!("the {krate} crate depends on database crates: {found:?}; only storage may");
        }
    }
    eprintln!("ok: no HTTP crate depends on a database crate");
    Ok(())
}

/// Each dialect's files mention no other dialect's module.
fn dialects_stand_alone() -> Result<()> {
    let src = root().join("crates/dialects/src");
    let mut dialects = BTreeMap::new();
    for entry in std::fs::read_dir(&src).with_context(|| format!("reading {}", src.display()))? {
        let path = entry?.path();
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if name != "lib" {
            dialects.insert(name, path);
        }
    }
    let mut broken = Vec::new();
    for (name, path) in &dialects {
        for file in rust_files(path)? {
            let text = std::fs::read_to_string(&file)?;
            for other in dialects.keys().filter(|o| *o != name) {
                if text.contains(&format!("crate::{other}")) || text.contains(&format!("super::{other}")) {
                    broken.push(format!("{} uses the {other} dialect", file.display()));
                }
            }
        }
    }
    if !broken.is_empty() {
        bail!("a dialect may use the domain, `web` and the dialects' shared extractors only:\n{}", broken.join("\n"));
    }
    eprintln!("ok: {} dialects, none using another", dialects.len());
    Ok(())
}

/// No two files of one crate import each other (a module and its ancestors excepted: a parent
/// declares its children and they use its shared items).
fn no_files_import_each_other() -> Result<()> {
    let mut circles = Vec::new();
    for krate in std::fs::read_dir(root().join("crates"))? {
        let src = krate?.path().join("src");
        if !src.is_dir() {
            continue;
        }
        let modules: BTreeMap<Vec<String>, PathBuf> =
            rust_files(&src)?.into_iter().map(|f| (module_of(&src, &f), f)).collect();
        let mut edges = BTreeSet::new();
        for (module, file) in &modules {
            let text = std::fs::read_to_string(file)?;
            for path in referenced_paths(&text, module) {
                let Some(target) = (1..=path.len()).rev().map(|n| &path[..n]).find(|p| modules.contains_key(*p)) else {
                    continue;
                };
                let related = target.starts_with(module) || module.starts_with(target);
                if !related {
                    edges.insert((module.clone(), target.to_vec()));
                }
            }
        }
        for (a, b) in &edges {
            if a < b && edges.contains(&(b.clone(), a.clone())) {
                circles.push(format!("{} <-> {}", modules[a].display(), modules[b].display()));
            }
        }
    }
    if !circles.is_empty() {
        bail!(
            "these files import each other; move what both need into one of them or a third:\n{}",
            circles.join("\n")
        );
    }
    eprintln!("ok: no two files import each other");
    Ok(())
}

/// Every `.rs` file under `path` (or `path` itself when it is one).
fn rust_files(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(if path.extension().is_some_and(|e| e == "rs") { vec![path.to_path_buf()] } else { vec![] });
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)? {
        files.extend(rust_files(&entry?.path())?);
    }
    Ok(files)
}

/// The module path of `file` in the crate whose sources are under `src`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("lib" | "main" | "mod")) {
        parts.pop();
    }
    parts
}

/// The absolute module paths that `crate::`, `super::` and `self::` paths in `text` name, up to
/// the file's tests (whose `super` is the file itself), outside comments (a doc link is no
/// import). `a::{b, c::d}` counts as `a::b` and `a::c::d`.
fn referenced_paths(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let text = text.split("#[cfg(test)]").next().unwrap_or(text);
    let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let text = code.as_str();
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    for (start, _) in text.match_indices("::") {
        let word_start = text[..start].rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
        let base: Vec<String> = match &text[word_start..start] {
            "crate" => Vec::new(),
            "super" => module[..module.len().saturating_sub(1)].to_vec(),
            "self" => module.to_vec(),
            _ => continue,
        };
        if word_start > 0 && bytes[word_start - 1] == b':' {
            continue;
        }
        let rest = &text[start + 2..];
        for tail in expand(rest) {
            let mut path = base.clone();
            path.extend(tail);
            found.push(path);
        }
    }
    found
}

/// The segments after a `crate::`: `a::b::C` → `[a, b, C]`; `a::{b, c::d}` → `[a, b]`, `[a, c, d]`.
fn expand(rest: &str) -> Vec<Vec<String>> {
    let ident = |s: &str| s.find(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(s.len(), |i| i);
    let mut prefix = Vec::new();
    let mut s = rest;
    loop {
        if let Some(group) = s.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            return inner
                .split(',')
                .map(|item| {
                    let mut p = prefix.clone();
                    p.extend(item.trim().split("::").map(|seg| seg[..ident(seg)].to_owned()).filter(|s| !s.is_empty()));
                    p
                })
                .collect();
        }
        let n = ident(s);
        if n == 0 {
            return vec![prefix];
        }
        prefix.push(s[..n].to_owned());
        match s[n..].strip_prefix("::") {
            Some(next) => s = next,
            None => return vec![prefix],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_against_the_files_module() {
        let module = vec!["console".to_owned(), "keys".to_owned()];
        let text = "use super::kind::Kind;\nuse crate::{a::B, c};\nlet x = self::inner::f();\nuse web::crate_like;";
        let found = referenced_paths(text, &module);
        let want: Vec<Vec<&str>> =
            vec![vec!["console", "kind", "Kind"], vec!["a", "B"], vec!["c"], vec!["console", "keys", "inner", "f"]];
        assert_eq!(found, want.iter().map(|p| p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).collect::<Vec<_>>());
    }

    #[test]
    fn a_files_tests_and_comments_are_not_read() {
        assert!(referenced_paths("#[cfg(test)]\nmod tests { use super::*; }", &["a".to_owned()]).is_empty());
        assert!(referenced_paths("/// See [`X`](crate::x::X).\nfn f() {}", &["a".to_owned()]).is_empty());
    }
}
