//! Request counts by method, route and status, as `GET /_sim/stats` reports them.

use axum::http::Method;
use serde::{Deserialize, Serialize};

/// How many requests of one method and route got one status (0: the connection was dropped).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCount {
    pub method: String,
    /// The route as routed, e.g. `/api/v2/users/authentication` (the raw path for unknown ones).
    pub route: String,
    pub status: u16,
    pub count: u64,
}

/// Every request the simulator answered or dropped since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub requests: Vec<RequestCount>,
}

/// Routes can be named without the `/api/v2` prefix: `"/users"` means `"/api/v2/users"`.
fn route_matches(full: &str, asked: &str) -> bool {
    full == asked
        || (!asked.starts_with("/api/v2") && !asked.starts_with("/_sim"))
            && full.strip_prefix("/api/v2") == Some(asked)
}

impl Stats {
    /// Requests of `method` on `route`, whatever their status.
    pub fn count(&self, method: &str, route: &str) -> u64 {
        self.rows(method, route).map(|row| row.count).sum()
    }

    /// Requests of `method` on `route` that got `status` (0 for dropped ones).
    pub fn count_with_status(&self, method: &str, route: &str, status: u16) -> u64 {
        self.rows(method, route)
            .filter(|row| row.status == status)
            .map(|row| row.count)
            .sum()
    }

    /// Every request counted.
    pub fn total(&self) -> u64 {
        self.requests.iter().map(|row| row.count).sum()
    }

    fn rows<'a>(
        &'a self,
        method: &'a str,
        route: &'a str,
    ) -> impl Iterator<Item = &'a RequestCount> {
        self.requests.iter().filter(move |row| {
            row.method.eq_ignore_ascii_case(method) && route_matches(&row.route, route)
        })
    }
}

/// The live counts: a short list scanned linearly, which for the few dozen rows a run produces
/// is cheaper than hashing a key built for every request.
#[derive(Debug, Default)]
pub(crate) struct StatsTable {
    rows: Vec<(Method, String, u16, u64)>,
}

/// Beyond this many rows, unknown paths share one row so that a scan of random URLs cannot grow
/// the table without bound.
const MAX_ROWS: usize = 1024;
const OTHER: &str = "(other)";

impl StatsTable {
    pub(crate) fn record(&mut self, method: &Method, route: &str, status: u16) {
        if self.increment(method, route, status) {
            return;
        }
        if self.rows.len() < MAX_ROWS {
            self.rows
                .push((method.clone(), route.to_owned(), status, 1));
        } else if !self.increment(method, OTHER, status) {
            self.rows
                .push((method.clone(), OTHER.to_owned(), status, 1));
        }
    }

    fn increment(&mut self, method: &Method, route: &str, status: u16) -> bool {
        let row = self
            .rows
            .iter_mut()
            .find(|row| row.2 == status && row.0 == *method && row.1 == route);
        match row {
            Some(row) => {
                row.3 += 1;
                true
            }
            None => false,
        }
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let mut requests: Vec<RequestCount> = self
            .rows
            .iter()
            .map(|(method, route, status, count)| RequestCount {
                method: method.as_str().to_owned(),
                route: route.clone(),
                status: *status,
                count: *count,
            })
            .collect();
        requests
            .sort_by(|a, b| (&a.route, &a.method, a.status).cmp(&(&b.route, &b.method, b.status)));
        Stats { requests }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_method_route_and_status() {
        let mut table = StatsTable::default();
        table.record(&Method::GET, "/api/v2/users", 200);
        table.record(&Method::GET, "/api/v2/users", 200);
        table.record(&Method::GET, "/api/v2/users", 400);
        table.record(&Method::PUT, "/api/v2/users/passwords", 0);
        let stats = table.snapshot();
        assert_eq!(stats.count("GET", "/api/v2/users"), 3);
        assert_eq!(stats.count("get", "/users"), 3);
        assert_eq!(stats.count_with_status("GET", "/users", 200), 2);
        assert_eq!(stats.count_with_status("PUT", "/users/passwords", 0), 1);
        assert_eq!(stats.total(), 4);
    }

    #[test]
    fn a_full_table_still_counts_known_routes_and_pools_new_ones() {
        let mut table = StatsTable::default();
        for number in 0..MAX_ROWS {
            table.record(&Method::GET, &format!("/scan/{number}"), 404);
        }
        table.record(&Method::GET, "/scan/0", 404);
        table.record(&Method::GET, "/scan/new-1", 404);
        table.record(&Method::GET, "/scan/new-2", 404);
        let stats = table.snapshot();
        assert_eq!(stats.count("GET", "/scan/0"), 2);
        assert_eq!(stats.count("GET", OTHER), 2);
        assert_eq!(stats.requests.len(), MAX_ROWS + 1);
    }
}
