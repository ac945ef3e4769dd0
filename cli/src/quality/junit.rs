//! JUnit XML of a test report, the format CI systems (GitHub Actions reporters, GitLab, Jenkins)
//! read: a suite per relation, a case per check, `<failure>` with the count, the query and a sample.

use super::outcome::{Report, Verdict};
use std::collections::BTreeMap;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

pub fn render(r: &Report) -> String {
    let mut suites: BTreeMap<&str, Vec<&super::outcome::Outcome>> = BTreeMap::new();
    for o in &r.outcomes {
        suites.entry(o.relation.as_str()).or_default().push(o);
    }
    let count = |v: Verdict| r.outcomes.iter().filter(|o| o.verdict == v).count();
    let secs = |ms: u64| ms as f64 / 1000.0;
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"dekit test {}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">\n",
        esc(&r.stack),
        r.outcomes.len(),
        count(Verdict::Fail),
        count(Verdict::Error),
        count(Verdict::Skipped),
        secs(r.outcomes.iter().map(|o| o.duration_ms).sum())
    ));
    for (rel, cases) in suites {
        let f = cases.iter().filter(|o| o.verdict == Verdict::Fail).count();
        let e = cases.iter().filter(|o| o.verdict == Verdict::Error).count();
        let sk = cases
            .iter()
            .filter(|o| o.verdict == Verdict::Skipped)
            .count();
        x.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{sk}\" time=\"{:.3}\">\n",
            esc(rel),
            cases.len(),
            secs(cases.iter().map(|o| o.duration_ms).sum())
        ));
        for o in cases {
            x.push_str(&format!(
                "    <testcase classname=\"quality.{}\" name=\"{}\" time=\"{:.3}\"",
                esc(rel),
                esc(&o.name),
                secs(o.duration_ms)
            ));
            let body = || {
                let sample: Vec<String> = o.sample.iter().map(|s| s.to_string()).collect();
                let mut b = format!("{}\nquery: {}", o.message, o.sql);
                if !sample.is_empty() {
                    b.push_str(&format!("\nsample:\n{}", sample.join("\n")));
                }
                if let Some(s) = &o.stored {
                    b.push_str(&format!("\nall failing rows: {s}"));
                }
                esc(&b)
            };
            match o.verdict {
                Verdict::Pass => x.push_str("/>\n"),
                // A warning passes in CI, its finding kept where reporters show output.
                Verdict::Warn => x.push_str(&format!(
                    ">\n      <system-out>warning ({}): {}</system-out>\n    </testcase>\n",
                    esc(&o.check),
                    body()
                )),
                Verdict::Fail => x.push_str(&format!(
                    ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                    esc(&o.check),
                    esc(&o.message),
                    body()
                )),
                Verdict::Skipped => x.push_str(&format!(
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    esc(&o.message)
                )),
                Verdict::Error => x.push_str(&format!(
                    ">\n      <error type=\"{}\" message=\"{}\">{}</error>\n    </testcase>\n",
                    esc(&o.check),
                    esc(&o.message),
                    body()
                )),
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}
