"""Schemathesis hooks for topcalls-sandbox/schemathesis.sh.

1. A fresh `Idempotency-Key` for every request sent. The spec's example key
   (and the few short keys generation favours) would otherwise be reused
   across requests with different bodies, and the sandbox rightly answers
   409 `idempotency_key_reused`: no POST would get past it. Only a valid key
   is replaced, by another valid one, so a request generated with a
   malformed key (negative data) keeps it and must still be refused.

2. Values only the server can issue are not generated. A `cursor` is valid
   only as a `next_cursor` the server returned, a `voip_carrier_sid` only
   as one of a carrier that exists, and `+999…` numbers are the sandbox's
   reserved undialable ones (like test card numbers; the API refuses
   undialable numbers with 400 too). A schema cannot say any of this, so in
   a positive case a generated value of these is swapped for one the
   sandbox issued (seen in its answers), or left out when it issued none.
   Nor can it say that an inbound SIP gateway (`inbound: true`) needs an
   IPv4 address rather than a hostname (one member's rule depending on
   another's value, `topcalls_types::rules::gateway_address`): a positive
   carrier with an inbound hostname gateway is sent as not inbound.
   The stateful phase passes issued values along the spec's links.

3. In the stateful phase, a list request that does not choose its `limit`
   asks for pages of 2, so that a next page exists and the spec's `NextPage`
   links (cursor from `next_cursor`) can be followed: with the default of 50
   the three campaigns never fill a page.

4. A tally of every answer by operation, generation mode and status (only
   requests made with the first account's key: the checks' own requests
   without a key, with a wrong one or as the second account are counted
   apart), and of the stateful links followed (a value one answer gave,
   used in the next request), written as JSON to $TOPCALLS_ST_TALLY when
   schemathesis exits, for the script's report. Links are counted where
   schemathesis records them for its own "API Links: N covered" line (its
   scenario recorder), so both agree; that recorder is internal to the
   pinned version, and without it the script finds no link covered and
   fails.

Cases made negative through a header (a malformed key, a missing
`Authorization`) are never edited: editing their headers makes schemathesis
re-judge them as positive and put the `Authorization` header back. Their key
cannot matter anyway, as the sandbox checks the API key and its scope first.
"""

import atexit
import collections
import ipaddress
import json
import os
import re
import uuid

import schemathesis
from schemathesis.engine.recorder import ScenarioRecorder

VALID_KEY = re.compile(r"[A-Za-z0-9_-]{8,255}")
UNDIALABLE = re.compile(r"\+999")

# Per identity (API key), as each account has its own: path template -> the
# cursors the sandbox returned for it, and voip_carrier_sid -> carrier id for
# the carriers that exist.
_cursors = collections.defaultdict(lambda: collections.defaultdict(list))
_carriers = collections.defaultdict(dict)

# "POST /v1/calls" -> mode -> status -> count
_tally = collections.defaultdict(lambda: collections.defaultdict(collections.Counter))
# Requests with a method the operation does not have (the 405 probes).
_probes = collections.Counter()
# Requests not made as the first account: credentials -> status -> count.
_other_credentials = collections.defaultdict(collections.Counter)
# Link id ("GET /v1/calls -> [200] GetCall -> GET /v1/calls/{call_id}") -> times followed.
_links = collections.Counter()

_record_case = ScenarioRecorder.record_case


def _record_case_and_link(self, *, case, parent_id=None, transition=None, is_transition_applied=False):
    if transition is not None and is_transition_applied:
        _links[transition.id] += 1
    _record_case(
        self, case=case, parent_id=parent_id, transition=transition, is_transition_applied=is_transition_applied
    )


ScenarioRecorder.record_case = _record_case_and_link


def _is_ipv4(value):
    try:
        ipaddress.IPv4Address(value)
    except (ValueError, TypeError):
        return False
    return True


def _is_positive(case):
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode.is_positive


def _identity(case):
    return getattr(case, "auth_identity", None)


def _phase(case):
    meta = getattr(case, "meta", None)
    name = meta.phase.name if meta is not None else None
    return getattr(name, "value", name)


def _negative_through_a_header(case):
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_negative:
        return False
    location = getattr(meta.phase.data, "parameter_location", None)
    return getattr(location, "value", location) == "header"


@schemathesis.hook
def before_call(context, case, kwargs):
    if _negative_through_a_header(case):
        return
    headers = case.headers
    if headers:
        for name in list(headers):
            value = headers[name]
            if name.lower() == "idempotency-key" and isinstance(value, str) and VALID_KEY.fullmatch(value):
                # Unique across the script's runs against one sandbox.
                headers[name] = f"schemathesis-{uuid.uuid4().hex}"
    if not _is_positive(case):
        return
    if _phase(case) == "stateful" and any(p.name == "limit" for p in case.operation.query):
        if not case.query:
            case.query = {"limit": 2}
        elif "limit" not in case.query:
            case.query["limit"] = 2
    identity = _identity(case)
    query = case.query
    issued = _cursors[identity][case.operation.path]
    if query and "cursor" in query and query["cursor"] not in issued:
        if issued:
            query["cursor"] = issued[-1]
        else:
            del query["cursor"]
    body = case.body
    carriers = _carriers[identity]
    if isinstance(body, dict):
        sid = body.get("voip_carrier_sid")
        if sid is not None and sid not in carriers:
            if carriers:
                body["voip_carrier_sid"] = next(reversed(carriers))
            else:
                del body["voip_carrier_sid"]
        gateway = body.get("sip_gateway")
        if isinstance(gateway, dict) and gateway.get("inbound") is True and not _is_ipv4(gateway.get("ipv4")):
            gateway["inbound"] = False
        for member in ("phone_number", "number"):
            value = body.get(member)
            if isinstance(value, str) and UNDIALABLE.match(value):
                # Still E.164: "+15" and the digits after "+999".
                body[member] = "+15" + value[4:]


@schemathesis.hook
def after_call(context, case, response):
    operation = case.operation
    if case.method.upper() != operation.method.upper():
        _probes[response.status_code] += 1
        return
    credentials = _credentials(response)
    if credentials != "bright-dental":
        _other_credentials[credentials][str(response.status_code)] += 1
        return
    label = f"{operation.method.upper()} {operation.path}"
    meta = getattr(case, "meta", None)
    mode = meta.generation.mode.value if meta is not None else "unknown"
    _tally[label][mode][str(response.status_code)] += 1
    _learn(case, response)


def _credentials(response):
    """Whose key the request carried: a name from the auth file, "none" or "unknown"."""
    sent = response.request.headers.get("Authorization")
    if sent is None:
        return "none"
    return _names().get(sent, "unknown")


_names_cache = {}


def _names():
    if not _names_cache:
        path = os.environ.get("TOPCALLS_ST_AUTH", "target/schemathesis/auth.json")
        with open(path, encoding="utf-8") as f:
            for entry in json.load(f)["auth"]:
                for header in entry.get("fixedHeaders", []):
                    if header["name"].lower() == "authorization":
                        _names_cache[header["value"]] = entry["name"]
    return _names_cache


def _learn(case, response):
    """Keeps what the sandbox issued: cursors and live carriers."""
    if not 200 <= response.status_code < 300:
        return
    path = case.operation.path
    method = case.operation.method.upper()
    carriers = _carriers[_identity(case)]
    if method == "DELETE" and path == "/v1/phone-numbers/carriers/{carrier_id}":
        deleted = (case.path_parameters or {}).get("carrier_id")
        for sid, carrier_id in list(carriers.items()):
            if carrier_id == deleted:
                del carriers[sid]
        return
    try:
        body = response.json()
    except ValueError:
        return
    if not isinstance(body, dict):
        return
    cursor = body.get("next_cursor")
    if isinstance(cursor, str) and cursor:
        _cursors[_identity(case)][path].append(cursor)
    if path == "/v1/phone-numbers/carriers":
        items = body.get("data") if method == "GET" else [body]
        for item in items or []:
            if isinstance(item, dict) and item.get("voip_carrier_sid") and item.get("id"):
                carriers[item["voip_carrier_sid"]] = item["id"]


def _write_tally():
    path = os.environ.get("TOPCALLS_ST_TALLY")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(
                {
                    "operations": _tally,
                    "method_probes": _probes,
                    "other_credentials": _other_credentials,
                    "links": _links,
                },
                out,
                indent=1,
                sort_keys=True,
            )


atexit.register(_write_tally)
