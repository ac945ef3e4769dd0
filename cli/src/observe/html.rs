//! `observe --html FILE`: the snapshot as one self-contained page (inline CSS and SVG, no script,
//! nothing fetched) that opens anywhere: run durations and rows over time, zone sizes, test
//! results, the lineage graph coloured by the last run, and the likely causes.

use super::Snapshot;
use crate::records::Status;
use std::collections::BTreeMap;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart: one bar per (label, value), scaled to the largest.
fn bars(title: &str, unit: &str, rows: &[(String, f64)], colour: &str) -> String {
    let max = rows.iter().map(|r| r.1).fold(0.0_f64, f64::max).max(1e-9);
    let h = 22;
    let height = rows.len() as i32 * h + 10;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg width=\"560\" height=\"{height}\" role=\"img\" aria-label=\"{}\">",
        esc(title),
        esc(title)
    );
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = i as i32 * h + 4;
        let w = (v / max * 300.0).max(1.0);
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{}\" class=\"l\">{}</text><rect x=\"190\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{}\" class=\"v\">{} {}</text>",
            y + 13,
            esc(label),
            196.0 + w,
            y + 13,
            fmt(*v),
            esc(unit)
        ));
    }
    svg.push_str("</svg></figure>");
    svg
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Steps laid out in columns by depth (a step right of everything it waits for).
fn lineage(s: &Snapshot) -> String {
    let status: BTreeMap<&str, Status> = s
        .runs
        .first()
        .map(|r| {
            r.steps
                .iter()
                .map(|(n, st, _, _)| (n.as_str(), *st))
                .collect()
        })
        .unwrap_or_default();
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    fn d<'a>(
        n: &'a str,
        g: &'a BTreeMap<String, std::collections::BTreeSet<String>>,
        memo: &mut BTreeMap<&'a str, usize>,
        guard: usize,
    ) -> usize {
        if let Some(v) = memo.get(n) {
            return *v;
        }
        let v = if guard > g.len() {
            0
        } else {
            g.get(n)
                .map(|deps| {
                    deps.iter()
                        .map(|x| d(x, g, memo, guard + 1) + 1)
                        .max()
                        .unwrap_or(0)
                })
                .unwrap_or(0)
        };
        memo.insert(n, v);
        v
    }
    for n in s.lineage.keys() {
        d(n, &s.lineage, &mut depth, 0);
    }
    let mut columns: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (n, k) in &depth {
        columns.entry(*k).or_default().push(n);
    }
    let (cw, rh) = (200, 34);
    let rows = columns.values().map(Vec::len).max().unwrap_or(1);
    let width = columns.len() as i32 * cw + 10;
    let height = rows as i32 * rh + 10;
    let mut at: BTreeMap<&str, (i32, i32)> = BTreeMap::new();
    for (c, names) in &columns {
        for (r, n) in names.iter().enumerate() {
            at.insert(n, (*c as i32 * cw + 5, r as i32 * rh + 5));
        }
    }
    let mut svg = format!(
        // Scaled down to the page's width when wider (a long pipeline was cut off at the right).
        "<figure><figcaption>Lineage (colour: last run)</figcaption><svg viewBox=\"0 0 {width} {height}\" style=\"width:100%;max-width:{width}px;height:auto\" role=\"img\" aria-label=\"lineage\">"
    );
    for (n, deps) in &s.lineage {
        let Some(&(x2, y2)) = at.get(n.as_str()) else {
            continue;
        };
        for dep in deps {
            if let Some(&(x1, y1)) = at.get(dep.as_str()) {
                svg.push_str(&format!(
                    "<line x1=\"{}\" y1=\"{}\" x2=\"{x2}\" y2=\"{}\" class=\"e\"/>",
                    x1 + 180,
                    y1 + 12,
                    y2 + 12
                ));
            }
        }
    }
    for (n, (x, y)) in &at {
        let fill = match status.get(n) {
            Some(Status::Succeeded) => "#cdeccd",
            Some(Status::Failed) => "#f6c6c6",
            Some(Status::Skipped) => "#f3e3b5",
            _ => "#e4e4e4",
        };
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"180\" height=\"24\" rx=\"4\" fill=\"{fill}\" class=\"n\"/><text x=\"{}\" y=\"{}\" class=\"t\">{}</text>",
            x + 6,
            y + 16,
            esc(n)
        ));
    }
    svg.push_str("</svg></figure>");
    svg
}

// Long: one HTML page, section by section, in the order it shows them.
pub fn render(s: &Snapshot) -> String {
    let mut runs: Vec<&super::Run> = s.runs.iter().collect();
    runs.reverse(); // oldest first, as time goes
    let durations: Vec<(String, f64)> = runs
        .iter()
        .map(|r| (r.run_id.clone(), r.duration_s))
        .collect();
    let rows: Vec<(String, f64)> = runs
        .iter()
        .map(|r| (r.run_id.clone(), r.rows as f64))
        .collect();
    let zones: Vec<(String, f64)> = s
        .zones
        .iter()
        .map(|z| (z.name.clone(), z.bytes as f64 / 1024.0))
        .collect();
    let mut body = format!(
        "<h1>{} / {}</h1><p class=\"m\">Observed {}</p>",
        esc(&s.stack),
        esc(&s.environment),
        esc(&s.taken_at)
    );
    let ok = s
        .resources
        .iter()
        .filter(|r| r.status == "ok" && r.drifted.is_empty())
        .count();
    body.push_str(&format!(
        "<section><h2>Resources</h2><p>{ok} of {} as declared</p><ul>",
        s.resources.len()
    ));
    for r in s
        .resources
        .iter()
        .filter(|r| r.status != "ok" || !r.drifted.is_empty())
    {
        body.push_str(&format!(
            "<li class=\"bad\">{} — {}</li>",
            esc(&r.address),
            esc(r.status)
        ));
    }
    body.push_str("</ul></section>");
    if !s.causes.is_empty() {
        body.push_str("<section><h2>Likely causes</h2><ul>");
        for c in &s.causes {
            body.push_str(&format!(
                "<li><b>{}</b><br>← {}</li>",
                esc(&c.symptom),
                esc(&c.cause)
            ));
        }
        body.push_str("</ul></section>");
    }
    body.push_str("<section class=\"charts\"><h2>Runs and data</h2>");
    body.push_str(&bars("Run duration", "s", &durations, "#4c78a8"));
    body.push_str(&bars("Rows per run (throughput)", "rows", &rows, "#72b7b2"));
    body.push_str(&bars("Zone size", "KiB", &zones, "#f58518"));
    if let Some(t) = &s.tests {
        body.push_str(&bars(
            &format!("Tests {}", t.test_id),
            "checks",
            &[
                ("passed".into(), t.passed as f64),
                ("failed".into(), t.failed.len() as f64),
            ],
            "#54a24b",
        ));
    }
    body.push_str("</section><section>");
    body.push_str(&lineage(s));
    body.push_str("</section><section><h2>Tables</h2><table><tr><th>table</th><th>objects</th><th>bytes</th><th>newest</th></tr>");
    for t in &s.tables {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&t.name),
            t.objects,
            t.bytes,
            t.age_hours.map_or("-".into(), |h| format!("{h:.1} h ago"))
        ));
    }
    if !s.executions.is_empty() {
        body.push_str("</table><h2>Pipeline executions</h2><table><tr><th>execution</th><th>status</th><th>run</th><th>steps recorded</th><th>failed</th></tr>");
        for e in &s.executions {
            body.push_str(&format!(
                "<tr><td>{}</td><td{}>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&e.name),
                if e.status == "SUCCEEDED" || e.status == "RUNNING" {
                    ""
                } else {
                    " class=\"bad\""
                },
                esc(&e.status),
                esc(&e.run_id),
                e.steps_done,
                esc(&e.failed.join("; "))
            ));
        }
    }
    body.push_str("</table><h2>Streams</h2><table><tr><th>stream</th><th>status</th><th>shards</th><th>produced</th></tr>");
    for st in &s.streams {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&st.name),
            esc(&st.status),
            st.shards.map_or("-".into(), |n| n.to_string()),
            st.produced
        ));
    }
    body.push_str(
        "</table><h2>Alarms</h2><table><tr><th>alarm</th><th>metric</th><th>state</th><th>reason</th></tr>",
    );
    for a in &s.alarms {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td{}>{}</td><td>{}</td></tr>",
            esc(&a.name),
            esc(&a.metric),
            if a.state == "ALARM" {
                " class=\"bad\""
            } else {
                ""
            },
            esc(&a.state),
            esc(&a.reason)
        ));
    }
    body.push_str("</table><h2>Open incidents</h2><table><tr><th>alarm</th><th>since</th><th>causes</th></tr>");
    for i in &s.incidents {
        body.push_str(&format!(
            "<tr><td class=\"bad\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&i.alarm),
            esc(i.since.as_deref().unwrap_or("-")),
            esc(&i.causes.join("; "))
        ));
    }
    body.push_str("</table></section>");
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>dekit observe: {}</title><style>\
body{{font:14px system-ui,sans-serif;margin:24px;color:#222;background:#fff}}h1{{margin:0}}.m{{color:#666}}\
section{{margin:18px 0}}figure{{margin:8px 0}}figcaption{{font-weight:600;margin-bottom:4px}}\
.l,.v,.t{{font:12px system-ui,sans-serif}}.l{{fill:#333}}.v{{fill:#555}}.e{{stroke:#999;stroke-width:1}}\
.n{{stroke:#888}}table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:3px 8px;text-align:left}}\
.bad{{color:#b00}}</style></head><body>{body}</body></html>\n",
        esc(&s.stack)
    )
}
