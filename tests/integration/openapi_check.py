# SPDX-License-Identifier: MPL-2.0
"""Every answer the integration tests get from kontaktd's API is checked
against the OpenAPI document, src/api/openapi.json.

What is checked: the answers to requests made with `requests` (Daemon.get
and Daemon.request, requests.get/post, requests.Session) and with
utils.http_request/utils.raw_http, sent to the port of a kontaktd that the
tests started, whose path is one of the document's path templates or lies
under /api. Paths outside /api that the document does not name (the web
front end's static files) are not part of the API and are not checked;
neither are the hand-made socket conversations of test_http.py and
test_shutdown.py that test the connection layer (slow clients, half
requests), which read the socket themselves.

For each answer:
- the operation is found by method and path template ("/api/v1/cases/{id}"
  matches "/api/v1/cases/17"; a template without parameters wins over one
  with them). HEAD is checked as the GET of the same path, without a body;
- the response object is the one for the status code, else its "4XX"
  range, else "default"; a status the operation does not document is an
  error;
- headers the response object marks `required: true` must be there, and
  a documented string header that is there must match its schema;
- a response object without content must come with an empty body; with
  content, the Content-Type's media type (parameters such as charset
  aside) must be one of the documented ones, and a JSON body must parse
  and be valid against the schema, with $ref resolved in the document;
  a text/* body is checked as a string.

Two rules cover the answers no operation can document:
- a path under /api (or /api itself) that matches no path template must
  be answered 404, and a known path with a method it does not document
  405 with an Allow header naming exactly the documented methods (HEAD
  with GET); both bodies must be the document's Error schema, which the
  document says every error uses;
- a request line that is not HTTP (a method that is not a token, say) is
  the HTTP library's business and is not checked.

Schemas: the document is OpenAPI 3.0, whose Schema Object is an extended
subset of JSON Schema draft 4 (boolean exclusiveMinimum, $ref replacing its
siblings). It is validated with jsonschema's Draft4Validator after one
translation: `nullable: true` becomes "null" added to `type` (and None
added to an `enum`), or, for a schema without `type` (a $ref, an allOf),
`anyOf: [the schema, {"type": "null"}]`. A 3.1 document would be used as
it is, with Draft202012Validator. Formats checked: "date-time" (RFC 3339,
and in UTC, as DESIGN.md requires of every timestamp) and "email" (an @).

The document is read, translated and its schemas checked against the
draft's meta-schema once per test process; a validator is built once per
schema. Problems are collected for the test that is running and fail it
(conftest.py): each names the method, path, status, the place in the body
and the schema keyword, and the test line that made the request. A test
opts out for a deliberately malformed request with
`with openapi_check.unchecked("why"):`.
"""

import contextlib
import json
import re
import threading
import traceback
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema

DOCUMENT = Path(__file__).resolve().parents[2] / "src" / "api" / \
    "openapi.json"
TESTS_DIR = Path(__file__).resolve().parents[1]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch",
           "trace")
# RFC 9110 token: a method that is not one never reaches the router.
TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
RFC3339_RE = re.compile(
    r"^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")

# How many schema errors of one body are listed.
MAX_ERRORS = 5


def _pointer_escape(key):
    return str(key).replace("~", "~0").replace("/", "~1")


def _pointer_unescape(part):
    return part.replace("~1", "/").replace("~0", "~")


# --- OpenAPI 3.0 schemas as JSON Schema draft 4 ---------------------------

_SCHEMA_MAPS = ("properties", "patternProperties", "definitions")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_ONE = ("not", "additionalProperties", "items",
               "additionalItems")


def translate_schema(schema):
    """A copy of an OpenAPI 3.0 Schema Object as JSON Schema draft 4:
    nullable: true turned into a type union (see the module's doc)."""
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: translate_schema(v) for k, v in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [translate_schema(v) for v in value]
        elif key in _SCHEMA_ONE and isinstance(value, (dict, list)):
            out[key] = ([translate_schema(v) for v in value]
                        if isinstance(value, list)
                        else translate_schema(value))
        else:
            out[key] = value
    if out.pop("nullable", False) is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) \
                else [out["type"]]
            if "null" not in types:
                out["type"] = types + ["null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = list(out["enum"]) + [None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _translate_document(doc):
    """The document with every Schema Object translated: those under
    components/schemas and those of the media types of responses,
    components/responses, parameters and request bodies."""
    doc = json.loads(json.dumps(doc))  # a deep copy

    def media(content):
        for mt in (content or {}).values():
            if "schema" in mt:
                mt["schema"] = translate_schema(mt["schema"])

    def response_like(obj):
        if not isinstance(obj, dict):
            return
        media(obj.get("content"))
        for h in (obj.get("headers") or {}).values():
            if isinstance(h, dict) and "schema" in h:
                h["schema"] = translate_schema(h["schema"])

    comps = doc.get("components", {})
    for name, s in list(comps.get("schemas", {}).items()):
        comps["schemas"][name] = translate_schema(s)
    for r in comps.get("responses", {}).values():
        response_like(r)
    for p in comps.get("parameters", {}).values():
        response_like(p)
    for r in comps.get("requestBodies", {}).values():
        response_like(r)
    for item in doc.get("paths", {}).values():
        for p in item.get("parameters", []):
            response_like(p)
        for m in METHODS:
            op = item.get(m)
            if not isinstance(op, dict):
                continue
            for p in op.get("parameters", []):
                response_like(p)
            response_like(op.get("requestBody"))
            for r in op.get("responses", {}).values():
                response_like(r)
    return doc


# --- the document ---------------------------------------------------------

def _format_checker():
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def date_time(value):
        if not isinstance(value, str):
            return True
        if not RFC3339_RE.match(value):
            raise ValueError("not RFC 3339")
        if not value.endswith(("Z", "z", "+00:00")):
            raise ValueError("not in UTC (DESIGN.md: timestamps are "
                             "RFC 3339 UTC)")
        return True

    @checker.checks("email")
    def email(value):
        return not isinstance(value, str) or "@" in value

    return checker


class Document:
    """The OpenAPI document, ready to check answers against."""

    def __init__(self, path=DOCUMENT):
        source = json.loads(Path(path).read_text(encoding="utf-8"))
        self.version = source.get("openapi", "")
        if self.version.startswith("3.0."):
            self.doc = _translate_document(source)
            self.validator_class = jsonschema.Draft4Validator
        elif self.version.startswith("3.1."):
            self.doc = source
            self.validator_class = jsonschema.Draft202012Validator
        else:
            raise ValueError(f"{path}: OpenAPI {self.version!r} is not "
                             "3.0 or 3.1")
        self.resolver = jsonschema.RefResolver("", self.doc)
        self.format_checker = _format_checker()
        # jsonschema's RefResolver keeps a scope stack: one validation at
        # a time (tests make requests from threads too).
        self.lock = threading.Lock()
        self.validators = {}  # pointer of a schema -> validator
        self.seen = set()  # (METHOD, template, response key) answered
        self.templates = []
        for template, item in self.doc.get("paths", {}).items():
            parts = template.split("/")
            rx = "/".join(
                "[^/]+" if re.fullmatch(r"\{[^}]+\}", part)
                else re.escape(part) for part in parts)
            literal = sum(1 for part in parts if "{" not in part)
            self.templates.append((-literal, template, re.compile(
                f"^{rx}$"), item))
        self.templates.sort(key=lambda t: (t[0], t[1]))
        for schema_ptr in self._response_schemas():
            self._validator(schema_ptr)

    def _response_schemas(self):
        """Pointers of every response schema of the document."""
        def of_response(ptr, resp):
            if "$ref" in resp:
                return
            for media, mt in (resp.get("content") or {}).items():
                if "schema" in mt:
                    yield (f"{ptr}/content/{_pointer_escape(media)}"
                           "/schema")
        for name, resp in self.doc.get("components", {}).get(
                "responses", {}).items():
            yield from of_response(
                f"#/components/responses/{_pointer_escape(name)}", resp)
        for template, item in self.doc.get("paths", {}).items():
            for m in METHODS:
                op = item.get(m)
                if not isinstance(op, dict):
                    continue
                for status, resp in op.get("responses", {}).items():
                    yield from of_response(
                        f"#/paths/{_pointer_escape(template)}/{m}/"
                        f"responses/{_pointer_escape(status)}", resp)

    def resolve(self, ref):
        """The object a local $ref ("#/components/...") points at."""
        if not ref.startswith("#"):
            raise ValueError(f"only local references are supported: {ref}")
        node = self.doc
        for part in ref[1:].split("/")[1:]:
            part = _pointer_unescape(part)
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def deref(self, obj, ptr):
        """(object, its pointer), following $ref chains."""
        seen = set()
        while isinstance(obj, dict) and "$ref" in obj:
            ptr = obj["$ref"]
            if ptr in seen:
                raise ValueError(f"$ref loop at {ptr}")
            seen.add(ptr)
            obj = self.resolve(ptr)
        return obj, ptr

    def _validator(self, schema_ptr):
        v = self.validators.get(schema_ptr)
        if v is None:
            schema = self.resolve(schema_ptr)
            self.validator_class.check_schema(schema)
            v = self.validator_class(schema, resolver=self.resolver,
                                     format_checker=self.format_checker)
            self.validators[schema_ptr] = v
        return v

    def match(self, path):
        """(template, path item) of a concrete path, or None."""
        for _, template, rx, item in self.templates:
            if rx.match(path):
                return template, item
        return None

    def schema_location(self, root_ptr, schema_path):
        """The pointer, in the document, of the keyword that failed:
        schema_path is a jsonschema error's absolute_schema_path from the
        schema at root_ptr. jsonschema leaves $ref out of that path: each
        $ref met on the way is followed to its target (in draft 4 a $ref
        replaces its siblings; in 2020-12 it is followed when the next key
        is not a sibling)."""
        node, ptr = self.resolve(root_ptr), root_ptr
        legacy = self.validator_class is jsonschema.Draft4Validator
        try:
            for key in schema_path:
                while isinstance(node, dict) and "$ref" in node and \
                        (legacy or key not in node):
                    ptr = node["$ref"]
                    node = self.resolve(ptr)
                ptr = f"{ptr}/{_pointer_escape(key)}"
                node = node[key]
        except (KeyError, IndexError, TypeError, ValueError):
            pass
        return ptr

    def unseen(self):
        """The documented responses that no answer used, as
        "METHOD template status" lines (KTD_OPENAPI_COVERAGE=1 prints
        them at the end of a run)."""
        out = []
        for template, item in self.doc.get("paths", {}).items():
            for m in METHODS:
                op = item.get(m)
                if not isinstance(op, dict):
                    continue
                for key in op.get("responses", {}):
                    if (m.upper(), template, key) not in self.seen:
                        out.append(f"{m.upper()} {template} {key}")
        return out

    # checking one answer

    def check(self, method, target, status, headers, body):
        """Problems (strings) of one answer; [] when it is as documented.
        headers: lower-case names; body: bytes, or None when there is none
        to check (HEAD, a streamed answer)."""
        path = urlsplit(target).path or "/"
        where = f"{method} {path} -> {status}"
        found = self.match(path)
        if found is None:
            if path != "/api" and not path.startswith("/api/"):
                return []  # not the API (the front end's static files)
            if status != 404:
                return [f"{where}: the path matches no path of the "
                        "OpenAPI document, so the answer must be 404 "
                        "(rule for unknown API paths)"]
            return self._check_error_rule(where, headers, body)
        template, item = found
        op = item.get(method.lower())
        if op is None and method.upper() == "HEAD" and "get" in item:
            op, body = item["get"], None
        if op is None:
            return self._check_method_rule(where, template, item, status,
                                           headers, body)
        op_where = f"{where} ({method.upper()} {template})"
        responses = op.get("responses", {})
        key = next((k for k in (str(status), f"{status // 100}XX",
                                f"{status // 100}xx", "default")
                    if k in responses), None)
        if key is None:
            return [f"{op_where}: status {status} is not documented "
                    f"(documented: {', '.join(responses)})"]
        with self.lock:
            self.seen.add((method.upper() if method.lower() in item
                           else "GET", template, key))
        resp_ptr = (f"#/paths/{_pointer_escape(template)}/"
                    f"{method.lower() if method.lower() in item else 'get'}"
                    f"/responses/{key}")
        resp, resp_ptr = self.deref(responses[key], resp_ptr)
        return self._check_response(op_where, resp, resp_ptr, headers,
                                    body)

    def _check_error_rule(self, where, headers, body):
        resp, ptr = self.deref({"$ref": "#/components/responses/Error"},
                               "")
        return self._check_response(where, resp, ptr, headers, body)

    def _check_method_rule(self, where, template, item, status, headers,
                           body):
        documented = [m.upper() for m in METHODS if m in item]
        if "GET" in documented and "HEAD" not in documented:
            documented.append("HEAD")
        if status != 405:
            return [f"{where}: {template} documents "
                    f"{', '.join(documented)} only, so the answer must be "
                    "405 (rule for undocumented methods)"]
        problems = self._check_error_rule(where, headers, body)
        allow = headers.get("allow")
        if allow is None:
            problems.append(f"{where}: a 405 without an Allow header")
        else:
            got = sorted(m.strip() for m in allow.split(",") if m.strip())
            if got != sorted(documented):
                problems.append(f"{where}: Allow: {allow} differs from the "
                                f"documented methods of {template} "
                                f"({', '.join(sorted(documented))})")
        return problems

    def _check_response(self, where, resp, resp_ptr, headers, body):
        problems = []
        for name, h in (resp.get("headers") or {}).items():
            h, _ = self.deref(h, "")
            if name.lower() == "content-type":
                continue
            value = headers.get(name.lower())
            if value is None:
                if h.get("required"):
                    problems.append(f"{where}: the required header {name} "
                                    "is missing")
                continue
            schema = h.get("schema") or {}
            if schema.get("type") == "string":
                with self.lock:
                    v = self.validator_class(
                        schema, resolver=self.resolver,
                        format_checker=self.format_checker)
                    for e in v.iter_errors(value):
                        problems.append(f"{where}: header {name}: "
                                        f"{e.message}")
        content = resp.get("content") or {}
        ctype = headers.get("content-type")
        if not content:
            if body:
                problems.append(f"{where}: a body ({len(body)} bytes, "
                                f"{ctype}) where {resp_ptr} documents none")
            return problems
        if ctype is None:
            problems.append(f"{where}: no Content-Type; {resp_ptr} "
                            f"documents {', '.join(content)}")
            return problems
        media = ctype.split(";", 1)[0].strip().lower()
        mt_key = next((k for k in (media, media.split("/")[0] + "/*", "*/*")
                       if k in content), None)
        if mt_key is None:
            problems.append(f"{where}: Content-Type {ctype} is not "
                            f"documented in {resp_ptr} (documented: "
                            f"{', '.join(content)})")
            return problems
        if body is None or "schema" not in content[mt_key]:
            return problems
        if content[mt_key]["schema"].get("format") == "binary":
            return problems     # bytes (an attachment): any content
        if media == "application/json" or media.endswith("+json"):
            try:
                instance = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                problems.append(f"{where}: the body is not JSON ({e}): "
                                f"{body[:200]!r}")
                return problems
        elif media.startswith("text/"):
            try:
                instance = body.decode("utf-8")
            except UnicodeDecodeError as e:
                problems.append(f"{where}: the body is not UTF-8 ({e})")
                return problems
        else:
            return problems
        schema_ptr = (f"{resp_ptr}/content/{_pointer_escape(mt_key)}"
                      "/schema")
        with self.lock:
            v = self._validator(schema_ptr)
            errors = sorted(v.iter_errors(instance),
                            key=jsonschema.exceptions.relevance)
            for e in errors[:MAX_ERRORS]:
                at = "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                             for p in e.absolute_path)
                loc = self.schema_location(schema_ptr,
                                           e.absolute_schema_path)
                why = f" ({e.cause})" if e.cause else ""
                problems.append(f"{where}: body ${at}: {e.message}{why} "
                                f"(schema {loc})")
            if len(errors) > MAX_ERRORS:
                problems.append(f"{where}: ... and "
                                f"{len(errors) - MAX_ERRORS} more schema "
                                "errors")
        return problems


_document = None
_document_lock = threading.Lock()


def document():
    """The Document of src/api/openapi.json, made once per process."""
    global _document
    with _document_lock:
        if _document is None:
            _document = Document()
        return _document


# --- collecting the problems of a test ------------------------------------

_lock = threading.Lock()
_problems = []
_unchecked = []  # reasons of the unchecked() blocks that are open


@contextlib.contextmanager
def unchecked(reason):
    """Answers received inside the block are not checked: for requests
    that are malformed on purpose. reason says why, for the reader."""
    assert reason, "say why the answers are not checked"
    with _lock:
        _unchecked.append(reason)
    try:
        yield
    finally:
        with _lock:
            _unchecked.remove(reason)


def _caller():
    """file:line of the test code that made the request."""
    frames = [f for f in traceback.extract_stack()
              if Path(f.filename).resolve().is_relative_to(TESTS_DIR)
              and Path(f.filename).name != "openapi_check.py"]
    for pick in (lambda n: n.startswith("test_"),
                 lambda n: n == "conftest.py", lambda n: True):
        for f in reversed(frames):
            if pick(Path(f.filename).name):
                return f"{Path(f.filename).name}:{f.lineno}"
    return "?"


def observe(method, target, status, headers, body):
    """Checks one answer and records its problems for the running test.
    headers: a mapping (any case); body: bytes or None."""
    with _lock:
        if _unchecked:
            return
    if not TOKEN_RE.match(method or ""):
        return
    hdrs = {k.lower(): v for k, v in headers.items()}
    if method.upper() == "HEAD":
        body = None
    try:
        found = document().check(method, target, status, hdrs, body)
    except Exception as e:  # a bug here must not look like a pass
        found = [f"{method} {target} -> {status}: the OpenAPI check "
                 f"failed: {e!r}"]
    if found:
        caller = _caller()
        with _lock:
            _problems.extend(f"{p} [request at {caller}]" for p in found)


def observe_raw(request, status, headers, body):
    """observe() for a raw request (bytes): method and target from its
    request line; a request line that is not HTTP is not checked."""
    line = request.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
        return
    try:
        method, target = parts[0].decode("ascii"), parts[1].decode("ascii")
    except UnicodeDecodeError:
        return
    observe(method, target, status, headers, body)


def take():
    """The problems recorded since the last take(), which forgets them."""
    with _lock:
        found = list(_problems)
        _problems.clear()
    return found


def reset():
    with _lock:
        _problems.clear()


_installed = False


def install(is_kontaktd):
    """Has every answer that requests receives from a kontaktd
    (is_kontaktd(host, port) true) observed. Idempotent."""
    global _installed
    if _installed:
        return
    _installed = True
    import requests

    send = requests.Session.send

    def checked_send(self, request, **kw):
        r = send(self, request, **kw)
        url = urlsplit(request.url)
        if is_kontaktd(url.hostname, url.port):
            observe(request.method, request.url, r.status_code, r.headers,
                    None if kw.get("stream") else r.content)
        return r

    requests.Session.send = checked_send
