#!/usr/bin/env python3
"""Fuzzes an orgql server binary's /graphql with Schemathesis.

Usage: fuzz.py SERVER_BINARY   (run.sh sets up the virtualenv and calls this)

Starts the binary on a free port with a fresh SQLite database and mail dir,
makes real data over HTTP (an owner with an organization, a member who joined
through an invitation, a pending invitation), then runs `st run` twice:
without a token, and with the owner's bearer token. Real IDs, slugs, emails
and tokens go into a Schemathesis dictionary, so that generated arguments
sometimes name things that exist and resolvers get past NOT_FOUND.

A third run sends generated deep and wide literals (lists and objects nested
from 1 to 5,000 deep, up to 2,000 wide, in argument values, input objects,
directive arguments and variables) over POST and GET.

Fails (exit 1) when a response is 5xx, a GraphQL error is the server's
INTERNAL_SERVER_ERROR, a request is not answered within the request timeout
(or slower than the max response time), the server process exits, /healthz
stops answering, or the server's log contains 'panicked'.

Environment: FUZZ_EXAMPLES (examples per operation and run, default 150),
FUZZ_SEED (default 20240601), FUZZ_REQUEST_TIMEOUT (s, default 10),
FUZZ_MAX_RESPONSE_TIME (s, default 5), FUZZ_LITERALS (generated literal
requests, default 300), KEEP_TMP=1 keeps the temp dir.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
SEED = int(os.environ.get("FUZZ_SEED", "20240601"))
REQUEST_TIMEOUT = float(os.environ.get("FUZZ_REQUEST_TIMEOUT", "10"))
MAX_RESPONSE_TIME = float(os.environ.get("FUZZ_MAX_RESPONSE_TIME", "5"))
LITERALS = int(os.environ.get("FUZZ_LITERALS", "300"))
PASSWORD = "correct horse battery"


def log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary: str, work: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.mail_dir = work / "mail"
        self.log_path = work / "server.log"
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self.log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [
                binary,
                "serve",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--database-url",
                str(work / "orgql.db"),
                "--mail-dir",
                str(self.mail_dir),
                "--ws-init-timeout",
                "1s",
                # The attempt limit has its own test; at its default it would
                # refuse all but ten of the fuzzer's logIn and signUp calls.
                "--auth-rate-limit",
                "100000",
            ],
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def healthy(self, timeout: float = 5.0) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=timeout) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_healthy(self, seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with {self.process.returncode} before it was healthy:\n{self.log_text()}")
            if self.healthy(timeout=2):
                return
            time.sleep(0.1)
        raise SystemExit(f"the server was not healthy within {seconds} s:\n{self.log_text()}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        if not self.log_file.closed:
            self.log_file.flush()
        return self.log_path.read_text(errors="replace")

    def panics(self) -> list[str]:
        lines = self.log_text().splitlines()
        return [
            "\n".join(lines[i : i + 6])
            for i, line in enumerate(lines)
            if "panicked" in line
        ]

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log("the server ignored SIGTERM for 10 s: killing it")
                self.process.kill()
                self.process.wait()
                return None
        self.log_file.close()
        return self.process.returncode


def graphql(url: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    headers = {"content-type": "application/json", "accept": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{url}/graphql", data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=15) as response:
        result = json.loads(response.read())
    if result.get("errors"):
        raise RuntimeError(f"setup request failed: {json.dumps(result)}\n{query}")
    return result["data"]


def invitation_token(mail_dir: Path, address: str, seconds: float = 15.0) -> str:
    """The token of the newest invitation mail to `address` in the mail dir."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        files = sorted(mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)
        for path in files:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address.lower() not in str(message.get("To", "")).lower():
                continue
            text = message.get_body(preferencelist=("plain", "html"))
            # Not the verification mail a sign-up gets.
            match = re.search(
                r"/invitations/accept\?token=([A-Za-z0-9_\-.~%]+)", text.get_content() if text else ""
            )
            if match:
                return urllib.parse.unquote(match.group(1))
        time.sleep(0.1)
    raise RuntimeError(f"no invitation mail to {address} in {mail_dir}")


def make_data(server: Server) -> dict:
    """Real objects to point the fuzzer at; returns the owner's token and dictionary values."""
    url = server.url
    sign_up = "mutation($input: SignUpInput!) { signUp(input: $input) { token user { id } } }"
    owner = graphql(url, sign_up, {"input": {"email": "owner@example.com", "name": "Owner", "password": PASSWORD}})["signUp"]
    org = graphql(
        url,
        "mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id slug owner { id } } } }",
        {"input": {"name": "Fuzz Org", "slug": "fuzz-org"}},
        owner["token"],
    )["createOrganization"]["organization"]
    ada = graphql(url, sign_up, {"input": {"email": "ada@example.com", "name": "Ada", "password": PASSWORD}})["signUp"]
    invite = "mutation($input: InviteMemberInput!) { inviteMember(input: $input) { invitation { id } } }"
    graphql(url, invite, {"input": {"organizationId": org["id"], "email": "ada@example.com", "role": "MEMBER"}}, owner["token"])
    ada_token = invitation_token(server.mail_dir, "ada@example.com")
    member = graphql(
        url,
        "mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { member { id } } }",
        {"input": {"token": ada_token}},
        ada["token"],
    )["acceptInvitation"]["member"]
    pending = graphql(
        url, invite, {"input": {"organizationId": org["id"], "email": "pending@example.com", "role": "MANAGER"}}, owner["token"]
    )["inviteMember"]["invitation"]
    pending_token = invitation_token(server.mail_dir, "pending@example.com")
    graphql(
        url,
        "mutation($input: AddCreditsInput!) { addCredits(input: $input) { organization { id } } }",
        {"input": {"organizationId": org["id"], "amount": 500}},
        owner["token"],
    )
    ids = [org["id"], org["owner"]["id"], member["id"], owner["user"]["id"], ada["user"]["id"], pending["id"]]
    dictionaries = {
        "ids": ids,
        "organization_ids": [org["id"]],
        "member_ids": [org["owner"]["id"], member["id"]],
        "user_ids": [owner["user"]["id"], ada["user"]["id"]],
        "invitation_ids": [pending["id"]],
        "slugs": [org["slug"]],
        "emails": ["owner@example.com", "ada@example.com", "pending@example.com", "new-person@example.com"],
        "passwords": [PASSWORD],
        "invitation_tokens": [pending_token],
        "csv": [
            "email,role\nbulk-one@example.com,member\nbulk-two@example.com,MANAGER\n",
            "email,role\nada@example.com,admin\nnot-an-email,member\nx@example.com,owner\nx@example.com,member\n",
            "email,role\n",
        ],
    }
    dictionaries["all"] = sorted({v for values in dictionaries.values() for v in values})
    return {"token": owner["token"], "dictionaries": dictionaries}


# Which dictionary fills which argument (`Type.field.argument.path`, `*` for any).
BINDINGS = {
    "*.*.input.organizationId": "organization_ids",
    "*.*.organizationId": "organization_ids",
    "*.*.input.memberId": "member_ids",
    "*.*.input.invitationId": "invitation_ids",
    "*.*.userId": "user_ids",
    "Query.node.id": "ids",
    "Query.organization.id": "organization_ids",
    "Query.organization.slug": "slugs",
    "*.*.input.email": "emails",
    "*.*.input.password": "passwords",
    "*.*.input.token": "invitation_tokens",
    "Query.invitation.token": "invitation_tokens",
    "Mutation.signUp.input.invitationToken": "invitation_tokens",
    "Mutation.bulkInviteMembers.input.csv": "csv",
}


def write_config(path: Path, dictionaries: dict[str, list[str]]) -> None:
    """A Schemathesis config: real values from the server as dictionaries for arguments.

    Each bound argument takes a dictionary value half of the time; any other
    String/ID argument takes one of all the values a fifth of the time.
    """
    lines = ["# Generated by tests/fuzz/fuzz.py: real values from the running server."]
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = [{', '.join(json.dumps(v) for v in values)}]", ""]
    lines += ["[generation.dictionaries.string]", 'dictionary = "all"', "probability = 0.2", ""]
    lines += ["[parameters]"]
    lines += [f'{json.dumps(key)} = {{ dictionary = "{name}", probability = 0.5 }}' for key, name in BINDINGS.items()]
    path.write_text("\n".join(lines) + "\n")


def run_schemathesis(server: Server, work: Path, name: str, config: Path, extra: list[str]) -> dict:
    report_dir = work / f"report-{name}"
    stats = work / f"stats-{name}.json"
    output = work / f"schemathesis-{name}.log"
    command = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(config),
        "run",
        f"{server.url}/graphql",
        "--checks",
        "status_below_500,no_internal_server_error,answered_in_time",
        "--request-timeout",
        str(REQUEST_TIMEOUT),
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
        *extra,
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "hooks",
        "PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "ORGQL_FUZZ_STATS": str(stats),
        "ORGQL_FUZZ_MAX_RESPONSE_TIME": str(MAX_RESPONSE_TIME),
    }
    shown = [("Bearer <token>" if a.startswith("Authorization: Bearer") else a) for a in command]
    log(f"\n==> fuzz {name}: {' '.join(shown[1:])}")
    started = time.monotonic()
    with open(output, "w") as out:
        process = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=work, timeout=600)
    elapsed = time.monotonic() - started
    text = output.read_text(errors="replace")
    counts = json.loads(stats.read_text()) if stats.exists() else {"requests": 0}
    result = {
        "name": name,
        "exit": process.returncode,
        "seconds": round(elapsed, 1),
        "stats": counts,
        "output": output,
        "text": text,
    }
    # Schemathesis' own summary, and its failures (with curl reproducers) when there are any.
    summary = text[text.find("=== WARNINGS") - 32 :] if "=== WARNINGS" in text else ""
    summary = summary or (text[text.find("=== SUMMARY") - 32 :] if "=== SUMMARY" in text else text[-3000:])
    if "=== FAILURES" in text or "=== ERRORS" in text:
        start = min(i for i in (text.find("=== FAILURES"), text.find("=== ERRORS")) if i >= 0)
        end = text.find("=== WARNINGS") if text.find("=== WARNINGS") > start else text.find("=== SUMMARY")
        log(text[max(0, start - 32) : end if end > start else None].rstrip())
    log(summary.rstrip())
    log(
        f"fuzz {name}: schemathesis exit {process.returncode}, {counts.get('requests', 0)} requests in {elapsed:.0f} s, "
        f"statuses {counts.get('statuses')}, GraphQL error codes {counts.get('error_codes')}, "
        f"slowest {counts.get('slowest_seconds')} s ({counts.get('slowest_operation')})"
    )
    for message in counts.get("uncoded_samples", []):
        log(f"  an error without extensions.code: {message}")
    return result


# Where a generated literal goes: argument values, input objects, a directive's
# argument, and (as JSON) a variable.
LITERAL_TEMPLATES = [
    "{{ organization(slug: {v}) {{ id }} }}",
    "{{ node(id: {v}) {{ id }} }}",
    "{{ __typename @include(if: {v}) }}",
    "mutation {{ createOrganization(input: {v}) {{ organization {{ id }} }} }}",
    "mutation {{ inviteMember(input: {v}) {{ invitation {{ id }} }} }}",
    "query {{ viewer {{ organizations(first: {v}) {{ totalCount }} }} }}",
]
LITERAL_KEYS = ["a", "name", "slug", "organizationId", "email", "role", "input"]


def literal(rng: random.Random, depth: int, width: int) -> tuple[str, object]:
    """A value nested `depth` deep whose innermost level is `width` wide: GraphQL text and JSON."""
    leaf = [rng.choice([1, "x", True, None]) for _ in range(width)]
    text = "[" + ", ".join(json.dumps(v) if v is not None else "null" for v in leaf) + "]"
    value: object = leaf
    kinds = [rng.choice("lo") for _ in range(depth - 1)]
    # Built from the inside out, as text (a list of parts, so 5,000 levels stay cheap).
    opens, closes = [], []
    for kind in kinds:
        if kind == "l":
            opens.append("[")
            closes.append("]")
        else:
            key = rng.choice(LITERAL_KEYS)
            opens.append(f"{{{key}: ")
            closes.append("}")
    text = "".join(reversed(opens)) + text + "".join(closes)
    if depth <= 120:  # JSON deeper than serde_json's 128 levels is tried in the integration tests
        for kind in kinds:
            value = [value] if kind == "l" else {rng.choice(LITERAL_KEYS): value}
    else:
        value = None
    return text, value


def literals_run(server: Server, token: str) -> dict:
    """Generated deep and wide literals: every answer below 500, none internal, the server alive."""
    rng = random.Random(SEED)
    statuses: dict[str, int] = {}
    codes: dict[str, int] = {}
    problems = []
    started = time.monotonic()
    for n in range(LITERALS):
        depth = rng.choice([1, 2, 5, 10, 30, 63, 64, 65, 100, 500, 1000, 5000])
        width = rng.choice([1, 2, 10, 100, 2000])
        text, value = literal(rng, depth, width)
        as_variable = value is not None and rng.random() < 0.3
        if as_variable:
            body = {"query": "query($v: [Int]) { __typename }", "variables": {"v": value}}
        else:
            body = {"query": rng.choice(LITERAL_TEMPLATES).format(v=text)}
        headers = {"content-type": "application/json", "accept": "application/json"}
        if rng.random() < 0.5:
            headers["authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode()
        if rng.random() < 0.3 and not body["query"].startswith("mutation") and len(data) < 60_000:
            query = urllib.parse.urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
            request = urllib.request.Request(f"{server.url}/graphql?{query}", headers=headers, method="GET")
        else:
            request = urllib.request.Request(f"{server.url}/graphql", data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                status, answer = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, answer = error.code, error.read()
        except (urllib.error.URLError, OSError) as error:
            problems.append(f"literal {n} (depth {depth}, width {width}): no answer: {error}")
            break
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        try:
            errors = json.loads(answer).get("errors") or []
        except (ValueError, AttributeError):
            errors = []
        for error in errors:
            code = (error.get("extensions") or {}).get("code", "(no code)")
            codes[code] = codes.get(code, 0) + 1
        if status >= 500 or any((e.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR" for e in errors):
            problems.append(f"literal {n} (depth {depth}, width {width}): {status} {answer[:300]!r}")
        if not server.alive():
            problems.append(f"the server exited (status {server.process.returncode}) at literal {n} (depth {depth})")
            break
    elapsed = time.monotonic() - started
    log(f"\n==> fuzz literals: {LITERALS} generated requests in {elapsed:.0f} s, statuses {statuses}, GraphQL error codes {codes}")
    for problem in problems[:10]:
        log(f"  {problem}")
    requests = sum(statuses.values())
    return {"name": "literals", "exit": 1 if problems else 0, "seconds": round(elapsed, 1), "stats": {"requests": requests}}


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary = os.path.realpath(sys.argv[1])
    if not os.access(binary, os.X_OK):
        print(f"not an executable: {sys.argv[1]}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="orgql-fuzz."))
    server = Server(binary, work)
    problems: list[str] = []
    results = []
    try:
        log(f"==> server {binary} on {server.url} (data in {work})")
        server.wait_healthy()
        data = make_data(server)
        config = work / "schemathesis.toml"
        write_config(config, data["dictionaries"])
        runs = [
            ("anonymous", []),
            # logOut would end the session every other request: the token's run leaves it out
            # (the anonymous run fuzzes it).
            ("bearer", ["--header", f"Authorization: Bearer {data['token']}", "--exclude-name", "Mutation.logOut"]),
        ]
        for name, extra in runs:
            result = run_schemathesis(server, work, name, config, extra)
            results.append(result)
            if result["exit"] != 0:
                problems.append(f"schemathesis ({name}) exited {result['exit']}: see the failures above ({result['output']})")
            if not server.alive():
                problems.append(f"the server exited (status {server.process.returncode}) during the {name} run")
                break
            if not server.healthy(timeout=5):
                problems.append(f"/healthz did not answer within 5 s after the {name} run")
        if server.alive():
            result = literals_run(server, data["token"])
            results.append(result)
            if result["exit"] != 0:
                problems.append("generated literals got a server error or no answer: see above")
            if not server.healthy(timeout=5):
                problems.append("/healthz did not answer within 5 s after the literals run")
    except subprocess.TimeoutExpired as error:
        problems.append(f"schemathesis did not finish within {error.timeout} s")
    finally:
        alive = server.alive()
        status = server.stop()
        panics = server.panics()
        if panics:
            problems.append("the server panicked:\n" + "\n---\n".join(panics[:5]))
        if alive and status not in (0,):
            problems.append(f"the server exited with {status} on SIGTERM")
        if problems:
            log("\nserver log (last 40 lines):")
            log("\n".join(server.log_text().splitlines()[-40:]))
        if os.environ.get("KEEP_TMP") == "1" or problems:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    log("\n==> fuzz summary")
    total = 0
    for r in results:
        total += r["stats"].get("requests", 0)
        log(f"  {r['name']:<10} {r['stats'].get('requests', 0)} requests, {r['seconds']} s, schemathesis exit {r['exit']}")
    log(f"  {total} requests in all")
    for problem in problems:
        log(f"  PROBLEM: {problem}")
    passed = sum(1 for r in results if r["exit"] == 0)
    log(f"fuzz: {passed} passed, {len(problems)} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
