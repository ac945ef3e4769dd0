//! References between nodes. An attribute value `{"$ref": "<address>", "attr": "<attribute>"}`
//! stands for the referenced node's attribute *as recorded*: its ARN as IAM or Kinesis returned it
//! after the create, never a value re-derived from naming rules (which is how a Glue job once
//! pointed at a role that did not exist). The compiler adds the edge with every reference, plan
//! resolves the ones whose target exists, and apply resolves the rest from state just before the
//! dependent is written.

use serde_json::{Map, Value, json};

const REF: &str = "$ref";

/// A reference to `attr` of the node at `address`.
pub fn reference(address: &str, attr: &str) -> Value {
    json!({ REF: address, "attr": attr })
}

/// `(address, attribute)` when `v` is a reference.
pub fn as_ref(v: &Value) -> Option<(&str, &str)> {
    let o = v.as_object()?;
    if o.len() != 2 {
        return None;
    }
    Some((o.get(REF)?.as_str()?, o.get("attr")?.as_str()?))
}

/// Every reference inside `v`, with its path (`role_arn`, `source.stream_arn`).
pub fn refs_in(path: &str, v: &Value, out: &mut Vec<(String, String, String)>) {
    if let Some((addr, attr)) = as_ref(v) {
        out.push((path.to_string(), addr.to_string(), attr.to_string()));
        return;
    }
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                refs_in(&p, v, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                refs_in(&format!("{path}[{i}]"), v, out);
            }
        }
        _ => {}
    }
}

pub fn contains_ref(v: &Value) -> bool {
    let mut out = vec![];
    refs_in("", v, &mut out);
    !out.is_empty()
}

/// Replace every reference that `lookup` answers; the others stay, to be known after apply.
pub fn resolve(v: &mut Value, lookup: &dyn Fn(&str, &str) -> Option<Value>) {
    if let Some((addr, attr)) = as_ref(v) {
        if let Some(known) = lookup(addr, attr) {
            *v = known;
        }
        return;
    }
    match v {
        Value::Object(o) => o.values_mut().for_each(|v| resolve(v, lookup)),
        Value::Array(a) => a.iter_mut().for_each(|v| resolve(v, lookup)),
        _ => {}
    }
}

pub fn resolve_attrs(attrs: &mut Map<String, Value>, lookup: &dyn Fn(&str, &str) -> Option<Value>) {
    attrs.values_mut().for_each(|v| resolve(v, lookup));
}

/// How a plan shows a value that only apply will know.
pub fn describe(v: &Value) -> Option<String> {
    as_ref(v).map(|(a, attr)| format!("(known after apply: {a}.{attr})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_what_is_known_and_keeps_the_rest() {
        let mut v = json!({
            "role_arn": reference("iam_role.a", "arn"),
            "source": { "stream_arn": reference("kinesis_stream.s", "arn") },
        });
        let mut found = vec![];
        refs_in("", &v, &mut found);
        assert_eq!(found.len(), 2);
        resolve(&mut v, &|a, _| {
            (a == "iam_role.a").then(|| json!("arn:aws:iam::1:role/a"))
        });
        assert_eq!(v["role_arn"], "arn:aws:iam::1:role/a");
        assert_eq!(
            describe(&v["source"]["stream_arn"]).unwrap(),
            "(known after apply: kinesis_stream.s.arn)"
        );
        assert!(contains_ref(&v));
    }
}
