"""The report of topcalls-sandbox/schemathesis.sh, from the tallies its hooks wrote.

    python3 topcalls-sandbox/schemathesis_report.py [--links-followed] openapi.yaml TALLY.json...

Prints, for every operation of the spec, how many requests schemathesis sent
and how many were accepted (2xx), split into positive (schema-valid) and
negative (schema-invalid) cases; then every link of the spec with the number
of times the stateful phase followed it. Fails (exit 1) when an operation
never got a 2xx or a link was never followed. With `--links-followed` it
prints nothing and only says (exit 0 or 1) whether every link was followed.
"""

import collections
import json
import sys

import yaml

METHODS = ("get", "put", "post", "delete", "patch")


def main(spec_path, tally_paths, links_only=False):
    with open(spec_path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    operations = {}
    links = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                operations[op["operationId"]] = f"{method.upper()} {path}"
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            for status, response in op["responses"].items():
                for name, link in (response.get("links") or {}).items():
                    target = operations[link["operationId"]]
                    # The id schemathesis gives a link.
                    links.append(f"{method.upper()} {path} -> [{status}] {name} -> {target}")

    counts = collections.defaultdict(lambda: collections.defaultdict(collections.Counter))
    followed = collections.Counter()
    probes = collections.Counter()
    other_credentials = collections.defaultdict(collections.Counter)
    for tally_path in tally_paths:
        with open(tally_path, encoding="utf-8") as f:
            tally = json.load(f)
        for operation, modes in tally["operations"].items():
            for mode, statuses in modes.items():
                counts[operation][mode].update(statuses)
        followed.update(tally["links"])
        probes.update(tally["method_probes"])
        for credentials, statuses in tally["other_credentials"].items():
            other_credentials[credentials].update(statuses)

    if links_only:
        return 0 if all(followed[link] for link in links) else 1

    problems = []
    print("Requests with the first account's key, per operation: sent / accepted (2xx),")
    print("for positive (schema-valid) and negative (schema-invalid) generated cases")
    header = f"  {'operation':<48} {'positive':>15} {'negative':>15}  statuses"
    print(header)
    for operation in operations.values():
        modes = counts.get(operation, {})
        cells = []
        for mode in ("positive", "negative"):
            statuses = modes.get(mode, collections.Counter())
            sent = sum(statuses.values())
            accepted = sum(n for status, n in statuses.items() if status.startswith("2"))
            cells.append(f"{sent:>6} / {accepted:>6}")
        every = collections.Counter()
        for statuses in modes.values():
            every.update(statuses)
        spread = " ".join(f"{status}:{n}" for status, n in sorted(every.items()))
        print(f"  {operation:<48} {cells[0]:>15} {cells[1]:>15}  {spread}")
        if not any(status.startswith("2") for status in every):
            problems.append(f"{operation} was never accepted (no 2xx)")
    print(f"  and {sum(probes.values())} requests with a method the path does not serve: "
          + " ".join(f"{status}:{n}" for status, n in sorted(probes.items())))
    described = {
        "none": "without a key (auth checks)",
        "unknown": "with a key that is not valid (auth checks)",
        "acme-logistics": "as the second account (object-level authorization checks)",
    }
    for credentials, statuses in sorted(other_credentials.items()):
        print(f"  and {sum(statuses.values())} requests {described.get(credentials, credentials)}: "
              + " ".join(f"{status}:{n}" for status, n in sorted(statuses.items())))

    covered = sum(1 for link in links if followed[link])
    print(f"\nStateful links of openapi.yaml followed: {covered} of {len(links)}")
    for link in links:
        print(f"  {followed[link]:>6}  {link}")
        if not followed[link]:
            problems.append(f"link never followed: {link}")
    unknown = sorted(set(followed) - set(links))
    for link in unknown:
        problems.append(f"followed a link the spec does not have: {link}")

    if problems:
        print("\nschemathesis report: FAILED")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print("\nschemathesis report: every operation accepted at least once, every link followed")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    links_only = args[:1] == ["--links-followed"]
    if links_only:
        args = args[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    sys.exit(main(args[0], args[1:], links_only=links_only))
