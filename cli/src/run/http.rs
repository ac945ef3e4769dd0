//! `http_api` sources: a table is `GET <url>/<table>`, JSON, followed page by page.
//!
//! A page is a JSON array of records, or an object holding them under `data`, `items`, `results`
//! or `records`; the next page is the object's `next` (a URL, or a path on the same host), else
//! the response's `Link: <...>; rel="next"` header. The token, when declared, is sent as
//! `Authorization: Bearer`; it comes from the environment at run time and is never printed.
//! Records go on as JSON lines, so they take the path files and streams take.

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc::Sender;

/// Pages at most: a server that links forever is an error, not a hang.
const MAX_PAGES: usize = 100_000;

pub struct Api {
    pub source: String,
    pub base: String,
    pub token: Option<String>,
}

impl Api {
    /// Source `name`'s API: its `url` and `token`, `${env.NAME}` resolved now.
    pub fn of_source(name: &str, src: &crate::model::Source) -> Result<Api, String> {
        let get = |v: &Option<crate::yaml::Spanned<String>>, field: &str| {
            v.as_ref()
                .map(|v| {
                    crate::interpolate::resolve_env(&v.value)
                        .map_err(|e| format!("source `{name}` `{field}`: {e}"))
                })
                .transpose()
        };
        Ok(Api {
            source: name.to_string(),
            base: get(&src.url, "url")?
                .ok_or_else(|| format!("source `{name}` declares no `url`"))?,
            token: get(&src.token, "token")?,
        })
    }
}

fn records(page: Value) -> Option<(Vec<Value>, Option<String>)> {
    match page {
        Value::Array(a) => Some((a, None)),
        Value::Object(mut o) => {
            let next = o.get("next").and_then(Value::as_str).map(str::to_string);
            for k in ["data", "items", "results", "records"] {
                if let Some(Value::Array(a)) = o.remove(k) {
                    return Some((a, next));
                }
            }
            None
        }
        _ => None,
    }
}

fn link_next(h: &reqwest::header::HeaderMap) -> Option<String> {
    let link = h.get(reqwest::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// Where a URL is shown: without its query (which may carry keys).
fn shown(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

impl Api {
    /// Every record of `table`, as JSON lines sent on `tx` one page at a time.
    pub async fn table(
        &self,
        table: &str,
        tx: Sender<Result<Bytes, String>>,
    ) -> Result<(), String> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .user_agent(concat!("dekit/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        let mut url = format!("{}/{table}", self.base.trim_end_matches('/'));
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..MAX_PAGES {
            if !seen.insert(url.clone()) {
                return Err(format!(
                    "{}: page {} links back to itself",
                    self.source,
                    shown(&url)
                ));
            }
            let mut req = client.get(&url).header("Accept", "application/json");
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.map_err(|e| {
                format!(
                    "source `{}`: GET {}: {}",
                    self.source,
                    shown(&url),
                    without_url(&e)
                )
            })?;
            let status = resp.status();
            if !status.is_success() {
                return Err(format!(
                    "source `{}`: GET {}: HTTP {status}",
                    self.source,
                    shown(&url)
                ));
            }
            let link = link_next(resp.headers());
            let body = resp.bytes().await.map_err(|e| {
                format!(
                    "source `{}`: GET {}: {}",
                    self.source,
                    shown(&url),
                    without_url(&e)
                )
            })?;
            let page: Value = serde_json::from_slice(&body).map_err(|e| {
                format!(
                    "source `{}`: GET {}: not JSON: {e}",
                    self.source,
                    shown(&url)
                )
            })?;
            let Some((rows, next)) = records(page) else {
                return Err(format!(
                    "source `{}`: GET {}: no records (a JSON array, or an object with `data`, `items`, `results` or `records`)",
                    self.source,
                    shown(&url)
                ));
            };
            let mut out = Vec::with_capacity(body.len());
            for r in rows {
                serde_json::to_writer(&mut out, &r).expect("JSON serializes");
                out.push(b'\n');
            }
            if tx.send(Ok(Bytes::from(out))).await.is_err() {
                return Ok(());
            }
            match next.or(link) {
                Some(n) if n.starts_with("http://") || n.starts_with("https://") => url = n,
                Some(n) => {
                    // A path on the same host.
                    let origin: String = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
                    url = format!("{origin}/{}", n.trim_start_matches('/'));
                }
                None => return Ok(()),
            }
        }
        Err(format!(
            "source `{}`: more than {MAX_PAGES} pages",
            self.source
        ))
    }
}

/// reqwest's error without the URL its text embeds (the query may hold keys): what kind, then
/// the causes.
fn without_url(e: &reqwest::Error) -> String {
    let mut parts = vec![
        if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "cannot connect"
        } else if e.is_body() || e.is_decode() {
            "reading the response failed"
        } else {
            "request failed"
        }
        .to_string(),
    ];
    let mut cur = std::error::Error::source(e);
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    parts.dedup();
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pages_are_arrays_or_objects_with_a_next_link() {
        let (rows, next) = records(json!([{"a": 1}])).unwrap();
        assert_eq!((rows.len(), next), (1, None));
        let (rows, next) =
            records(json!({"items": [{"a": 1}, {"a": 2}], "next": "/t?page=2"})).unwrap();
        assert_eq!((rows.len(), next.as_deref()), (2, Some("/t?page=2")));
        assert!(records(json!({"rows": 1})).is_none());
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::LINK,
            "<https://api.example.com/t?page=3>; rel=\"next\", <https://api.example.com/t?page=1>; rel=\"first\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            link_next(&h).as_deref(),
            Some("https://api.example.com/t?page=3")
        );
        assert_eq!(shown("https://x/t?key=secret"), "https://x/t");
    }
}
