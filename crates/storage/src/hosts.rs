//! The hosts of a PostgreSQL URL that names several, tried in turn by Keyward itself for
//! `target_session_attrs=read-write`.
//!
//! libpq decides whether a server takes writes from the parameters the server reports when the
//! session starts. A pooler in front of a server (PgBouncer) reports the parameters it saw when it
//! first connected to that server, so after a failover the PgBouncer of a demoted primary still
//! looks writable, and libpq keeps choosing it. Here each host is tried on its own, and a
//! connection counts only once a statement on it has shown that its server takes writes.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The single-host URLs of a multi-host URL that asks for a writable server. Its `Debug` shows
/// how many there are, never the URLs (they may hold a password).
pub(crate) struct ReadWriteHosts {
    /// The URL once for each host, in the order given, each naming that host alone.
    urls: Vec<String>,
    /// The host that took writes last: tried first.
    preferred: AtomicUsize,
}

impl std::fmt::Debug for ReadWriteHosts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadWriteHosts").field("hosts", &self.urls.len()).finish_non_exhaustive()
    }
}

/// Why a host was passed over.
pub(crate) enum Refusal<E> {
    /// Its server does not take writes.
    ReadOnly,
    /// Connecting, or the check, failed.
    Failed(E),
}

impl ReadWriteHosts {
    /// `Some` for a `postgres://` URL that names several hosts and asks for a writable one
    /// (`target_session_attrs=read-write` or `primary`); anything else is left to libpq.
    pub(crate) fn parse(url: &str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (user, hosts) = match authority.rsplit_once('@') {
            Some((user, hosts)) => (format!("{user}@"), hosts),
            None => (String::new(), authority),
        };
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        let writable =
            query.split('&').any(|p| p == "target_session_attrs=read-write" || p == "target_session_attrs=primary");
        let hosts: Vec<&str> = hosts.split(',').collect();
        if hosts.len() < 2 || !writable {
            return None;
        }
        // libpq's own check is left out: through a pooler it can refuse the one writable host.
        let rest: Vec<&str> = query.split('&').filter(|p| !p.starts_with("target_session_attrs=")).collect();
        let query = if rest.iter().all(|p| p.is_empty()) { String::new() } else { format!("?{}", rest.join("&")) };
        let urls = hosts.iter().map(|host| format!("{scheme}://{user}{host}{path}{query}")).collect();
        Some(Self { urls, preferred: AtomicUsize::new(0) })
    }

    /// The first connection, starting from the host that took writes last, that `open` makes
    /// and `check` finds writable; else the last failure.
    pub(crate) fn connect<C, E>(
        &self,
        open: impl Fn(&str) -> Result<C, E>,
        check: impl Fn(&mut C) -> Result<(), Refusal<E>>,
        read_only: impl Fn() -> E,
    ) -> Result<C, E> {
        let first = self.preferred.load(Ordering::Relaxed);
        let mut last = None;
        for i in 0..self.urls.len() {
            let at = (first + i) % self.urls.len();
            let refusal = match open(&self.urls[at]) {
                Ok(mut conn) => match check(&mut conn) {
                    Ok(()) => {
                        self.preferred.store(at, Ordering::Relaxed);
                        return Ok(conn);
                    }
                    Err(refusal) => refusal,
                },
                Err(e) => Refusal::Failed(e),
            };
            last = Some(match refusal {
                Refusal::ReadOnly => read_only(),
                Refusal::Failed(e) => e,
            });
        }
        Err(last.unwrap_or_else(read_only))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    const URL: &str =
        "postgres://kw:secret@db1:6432,db2:6432,db3:6432/kw?target_session_attrs=read-write&sslmode=disable";

    #[test]
    fn a_url_naming_several_hosts_for_writes_is_split_per_host() {
        let hosts = ReadWriteHosts::parse(URL).unwrap();
        assert_eq!(
            hosts.urls,
            [
                "postgres://kw:secret@db1:6432/kw?sslmode=disable",
                "postgres://kw:secret@db2:6432/kw?sslmode=disable",
                "postgres://kw:secret@db3:6432/kw?sslmode=disable",
            ]
        );
        let no_user = ReadWriteHosts::parse("postgresql://a,b?target_session_attrs=primary").unwrap();
        assert_eq!(no_user.urls, ["postgresql://a", "postgresql://b"]);
    }

    #[test]
    fn other_urls_are_left_to_libpq() {
        assert!(ReadWriteHosts::parse("postgres://kw@db1,db2/kw").is_none(), "any server will do");
        assert!(ReadWriteHosts::parse("postgres://kw@db1,db2/kw?target_session_attrs=any").is_none());
        assert!(ReadWriteHosts::parse("postgres://kw@db1/kw?target_session_attrs=read-write").is_none(), "one host");
        assert!(ReadWriteHosts::parse("host=db1,db2 target_session_attrs=read-write").is_none(), "not a URL");
    }

    #[test]
    fn a_read_only_or_failing_host_is_passed_over_and_the_writable_one_is_tried_first_next_time() {
        let hosts = ReadWriteHosts::parse(URL).unwrap();
        let tried = RefCell::new(Vec::new());
        let open = |url: &str| {
            let host = url.split_once('@').unwrap().1.split_once(':').unwrap().0.to_owned();
            tried.borrow_mut().push(host.clone());
            if host == "db1" { Err("refused") } else { Ok(host) }
        };
        let check = |host: &mut String| if host == "db2" { Err(Refusal::ReadOnly) } else { Ok(()) };
        assert_eq!(hosts.connect(open, check, || "read-only"), Ok("db3".to_owned()));
        assert_eq!(hosts.connect(open, check, || "read-only"), Ok("db3".to_owned()));
        assert_eq!(*tried.borrow(), ["db1", "db2", "db3", "db3"], "the writable host is tried first");

        let none_writable = |_: &mut String| Err(Refusal::ReadOnly);
        assert_eq!(hosts.connect(open, none_writable, || "read-only"), Err("read-only"));
    }
}
