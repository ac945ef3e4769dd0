"""Validate OpenLineage events (JSON lines, a file or stdin) against the vendored OpenLineage
schemas in tests/tools/openlineage/: each event against OpenLineage.json's RunEvent, and each
facet against the schema its `_schemaURL` names. A facet whose schema is not vendored is an
error: an event is valid only when every part of it was checked. Prints one line per problem and
exits 1 when there is any."""

import json
import pathlib
import sys

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

HERE = pathlib.Path(__file__).parent / "openlineage"
schemas = {}
for f in HERE.glob("*.json"):
    s = json.loads(f.read_text())
    schemas[s["$id"]] = s
registry = Registry().with_resources(
    (i, Resource.from_contents(s)) for i, s in schemas.items()
)
CORE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"


def validator(url):
    """The validator for a schema URL `<id>#/$defs/<name>`."""
    base, _, pointer = url.partition("#")
    if base not in schemas:
        return None
    node = schemas[base]
    for part in pointer.strip("/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return Draft202012Validator(
        {"$ref": url}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def facets(event):
    """Every facet of the event, with where it is."""
    yield from (("run." + k, v) for k, v in event["run"].get("facets", {}).items())
    yield from (("job." + k, v) for k, v in event["job"].get("facets", {}).items())
    for side in ("inputs", "outputs"):
        for d in event.get(side, []):
            for key in ("facets", "inputFacets", "outputFacets"):
                for k, v in d.get(key, {}).items():
                    yield f"{side}[{d['name']}].{key}.{k}", v


problems = []
lines = (open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin).read().splitlines()
if not lines:
    problems.append("no events")
run_event = validator(CORE + "#/$defs/RunEvent")
for n, line in enumerate(lines, 1):
    event = json.loads(line)
    where = f"event {n} ({event.get('eventType')} {event.get('job', {}).get('name')})"
    for e in run_event.iter_errors(event):
        problems.append(f"{where}: {'/'.join(map(str, e.path))}: {e.message}")
    if event.get("schemaURL") != CORE + "#/$defs/RunEvent":
        problems.append(f"{where}: schemaURL {event.get('schemaURL')}")
    for path, facet in facets(event):
        v = validator(facet.get("_schemaURL", ""))
        if v is None:
            problems.append(f"{where}: {path}: schema {facet.get('_schemaURL')} is not vendored")
            continue
        for e in v.iter_errors(facet):
            problems.append(f"{where}: {path}: {'/'.join(map(str, e.path))}: {e.message}")
for p in problems:
    print(p)
print(f"{len(lines)} events, {len(problems)} problems")
sys.exit(1 if problems else 0)
