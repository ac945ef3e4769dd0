"""Independent checks of `dekit lint` and of the IAM policies dekit generates.

usage: lint_checks.py sarif SCHEMA FILE     validate a SARIF file against the SARIF 2.1.0 schema
       lint_checks.py iam GRAPH_JSON        run parliament on every IAM policy of a `dekit graph`
Prints one JSON object: {"ok": bool, "problems": [...]} ; exits 1 when not ok.
"""
import json
import sys


def sarif(schema_path, path):
    import jsonschema

    schema = json.load(open(schema_path))
    doc = json.load(open(path))
    cls = jsonschema.validators.validator_for(schema)
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in cls(schema).iter_errors(doc)]
    return errors


def iam(graph_path):
    from parliament import analyze_policy_string

    graph = json.load(open(graph_path))
    problems, checked = [], 0
    for node in graph["nodes"]:
        if not node["address"].startswith("iam_role."):
            continue
        attrs = node["attributes"]
        for kind, policy in (("inline_policy", attrs.get("inline_policy")), ("trust_policy", attrs.get("assume_role_policy"))):
            if not policy:
                continue
            analyzed = analyze_policy_string(
                json.dumps(policy), ignore_private_auditors=True, include_community_auditors=False
            )
            checked += 1
            for f in analyzed.findings:
                # A trust policy has a Principal and no Resource by design.
                if kind == "trust_policy" and f.issue in ("MALFORMED", "RESOURCE_MISMATCH"):
                    continue
                problems.append(f"{node['address']} {kind}: {f.issue} {f.detail} {f.location}")
    if checked == 0:
        problems.append("no IAM policy found: nothing was checked")
    return problems, checked


if __name__ == "__main__":
    if sys.argv[1] == "sarif":
        errors = sarif(sys.argv[2], sys.argv[3])
        print(json.dumps({"ok": not errors, "problems": errors}))
        sys.exit(1 if errors else 0)
    problems, checked = iam(sys.argv[2])
    print(json.dumps({"ok": not problems, "checked": checked, "problems": problems}))
    sys.exit(1 if problems else 0)
