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


def resource_condition_keys():
    """(action, condition key) pairs that are valid through the action's resource types, from
    parliament's own IAM database. Its UNKNOWN_CONDITION_FOR_ACTION looks only at the keys listed
    on the action itself, so it reports keys AWS documents on the resource type (`kms:ResourceAliases`
    on a KMS key, for `kms:Decrypt`) as unknown."""
    import parliament

    valid = set()
    for service in parliament.iam_definition:
        by_type = {r["resource"]: r["condition_keys"] for r in service["resources"]}
        for p in service["privileges"]:
            action = f"{service['prefix']}:{p['privilege']}".lower()
            for rt in p["resource_types"]:
                for key in by_type.get(rt["resource_type"].rstrip("*"), []):
                    valid.add((action, key.lower()))
    return valid


def iam(graph_path):
    import re

    from parliament import analyze_policy_string

    valid = resource_condition_keys()

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
                m = re.match(r"Unknown condition (\S+) for action (\S+)", str(f.detail))
                if f.issue == "UNKNOWN_CONDITION_FOR_ACTION" and m and (
                    (m.group(2).lower(), m.group(1).lower()) in valid
                ):
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
