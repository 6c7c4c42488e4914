#!/usr/bin/python3
"""monitor_browser.py: the headless-chromium half of test/integration/monitor_browser.sh (read its header).

    MOSTA_MONITOR_TOKEN=... monitor_browser.py --url http://127.0.0.1:PORT --db DB --out DIR --sidecar-pid PID
                       --tree FILE [--rule r1 --table t --lag-replica lite --xss-replica ghost
                       --xss-rule r2]

Drives Debian's chromium through Debian's chromedriver (python3-selenium) against a running mosta-monitor whose
topology comes from a running mosta-sidecar --tree on database DB (psql reaches it through the PG* variables).
Prints one TAP line per check ("ok - ..." / "not ok - ..."), screenshots into DIR, and exits 0 whatever the
results (the shell script counts the lines); exit status 2 when the browser cannot be driven at all. The token
comes from the environment (MOSTA_MONITOR_TOKEN, as the monitor reads it), so it is in no argument list and no
file; it is typed into the login form only.
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

# The flags the closed network of CI needs: without the background-networking ones, chromium waits on
# refused connections (component updates, safe browsing) and the first navigation hangs.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--disable-default-apps", "--disable-extensions",
                  "--no-default-browser-check", "--window-size=1366,900"]
LAPTOP = (1366, 900)
PHONE = 375

results = {"passed": 0, "failed": 0}


def ok(description):
    results["passed"] += 1
    print(f"ok - {description}", flush=True)


def not_ok(description, detail=None):
    results["failed"] += 1
    print(f"not ok - {description}", flush=True)
    if detail:
        for line in str(detail).splitlines():
            print(f"#   {line}", flush=True)


def check(condition, description, detail=None):
    if condition:
        ok(description)
    else:
        not_ok(description, detail)
    return condition


def poll(seconds, probe):
    """Calls probe() every 0.2 s until it returns a true value or SECONDS pass; returns its last value. A
    StaleElementReferenceException (the page re-rendered under the probe) counts as a false value."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = probe()
        except StaleElementReferenceException:
            value = None
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.2)  # --allow-sleep: poll interval of a loop bounded by the deadline


def psql_rows(db, sql):
    out = subprocess.run(["psql", "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def psql(db, sql):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql], check=True,
                   capture_output=True, text=True)


def start_browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


# SNAPSHOT: what the dashboard shows, read from the DOM through the data-testid hooks in one script run: the page
# re-renders at every state, so elements looked up one by one through WebDriver may be gone by the next call.
SNAPSHOT = """
const all = (root, id) => Array.from(root.querySelectorAll('[data-testid="' + id + '"]'));
const one = (root, id) => root.querySelector('[data-testid="' + id + '"]');
const text = (node) => node ? node.textContent.trim() : null;
const value = (node) => node ? node.getAttribute('data-value') : null;
const shown = (node) => Boolean(node && node.getClientRects().length);
return {
    replicas: all(document, 'replica-row').map((row) => ({
        project: row.getAttribute('data-project'), replica: row.getAttribute('data-replica'),
        role: text(one(row, 'replica-role')), dialect: text(one(row, 'replica-dialect')),
        status: text(one(row, 'replica-status')), lag_text: text(one(row, 'replica-lag-ms')),
        lag_value: value(one(row, 'replica-lag-ms')), error: text(one(row, 'replica-error')),
        sparkline_marks: row.querySelectorAll('svg.spark polyline, svg.spark circle').length })),
    rules: all(document, 'rule-row').map((row) => ({
        rule: row.getAttribute('data-rule'), mode: text(one(row, 'rule-mode')), status: text(one(row, 'rule-status')),
        changes: value(one(row, 'rule-changes')), transactions: value(one(row, 'rule-transactions')),
        conflicts: value(one(row, 'rule-conflicts')),
        rows_copied: value(one(row, 'rule-rows-copied')), changes_text: text(one(row, 'rule-changes')),
        rate_text: text(one(row, 'rule-changes-rate')), error: text(one(row, 'rule-error')) })),
    targets: all(document, 'target-row').map((row) => ({
        rule: row.getAttribute('data-rule'), replica: row.getAttribute('data-replica'),
        slot: text(one(row, 'target-slot')), status: text(one(row, 'target-status')) })),
    reads: Object.fromEntries(all(document, 'project').map((card) =>
        [card.getAttribute('data-project'), text(one(card, 'reads-go-to'))])),
    activity: all(document, 'activity-item').map((item) => text(one(item, 'activity-action'))),
    stale: all(document, 'stale-banner').filter(shown).map(text)[0] || null,
};
"""


class Page:
    """What the dashboard shows (SNAPSHOT)."""

    def __init__(self, driver):
        self.driver = driver

    def by_testid(self, testid):
        return self.driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def snapshot(self):
        return self.driver.execute_script(SNAPSHOT)

    def replicas(self):
        return {(r["project"], r["replica"]): r for r in self.snapshot()["replicas"]}

    def rules(self):
        return {r["rule"]: r for r in self.snapshot()["rules"]}

    def activity(self):
        return self.snapshot()["activity"]

    def targets(self):
        return sorted((t["rule"], t["replica"], t["slot"]) for t in self.snapshot()["targets"])

    def reads(self):
        return self.snapshot()["reads"]

    def stale_banner(self):
        return self.snapshot()["stale"]


def catalog_replicas(db):
    rows = psql_rows(db, "SELECT project, replica, role, dialect, status, coalesce(lag_ms::text, '') "
                         "FROM mosta_replica_status()")
    return {(p, r): {"role": role, "dialect": dialect, "status": status, "lag_ms": lag}
            for p, r, role, dialect, status, lag in rows}


RULE_FIELDS = ("mode", "status", "rows_copied", "changes", "transactions", "conflicts")


def catalog_rules(db):
    rows = psql_rows(db, "SELECT name, mode, status, snapshot_rows, changes_applied, transactions, conflicts "
                         "FROM mosta_rules()")
    return {row[0]: dict(zip(RULE_FIELDS, row[1:])) for row in rows}


def catalog_targets(db):
    return sorted(tuple(row) for row in psql_rows(db, "SELECT rule, replica, slot FROM mosta_rule_targets()"))


def screenshot(driver, out, name):
    """The whole page (beyond the viewport, at the current width) as a PNG in OUT."""
    path = os.path.join(out, name)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    data = base64.b64decode(shot.get("data", ""))
    with open(path, "wb") as f:
        f.write(data)
    check(data.startswith(b"\x89PNG\r\n\x1a\n"), f"screenshot {path}")


def login(driver, url, token):
    driver.get(url + "/login")
    field = driver.find_element(By.NAME, "token")
    field.send_keys(token)
    field.submit()


def run(args, driver, token):
    page = Page(driver)
    db = args.db

    # 1. An unauthenticated visit goes to the login page; a wrong token is refused with a message.
    driver.get(args.url + "/")
    check(poll(10, lambda: driver.current_url.endswith("/login")), "an unauthenticated GET / lands on /login",
          driver.current_url)
    login(driver, args.url, "not-the-token")
    messages = poll(10, lambda: [e.text for e in page.by_testid("login-error") if e.is_displayed()])
    check(messages and len(messages) == 1 and "wrong token" in messages[0].lower()
          and driver.current_url.endswith("/login"),
          "a wrong token: the login page again, saying so once", f"messages {messages!r}, at {driver.current_url}")
    check(not driver.get_cookies(), "a wrong token sets no cookie", driver.get_cookies())

    # 2. The right token: the dashboard, with an HttpOnly session cookie that is not the token.
    login(driver, args.url, token)
    rows = poll(20, lambda: driver.current_url.rstrip("/") == args.url and page.by_testid("replica-row"))
    check(rows, "logged in through the form: the dashboard shows replicas", driver.current_url)
    cookies = driver.get_cookies()
    session = [c for c in cookies if c["name"] == "mosta_monitor_session"]
    check(len(session) == 1 and session[0].get("httpOnly") and token not in session[0]["value"],
          "the session cookie is HttpOnly and does not hold the token", [c["name"] for c in cookies])
    check(token not in driver.page_source and token not in driver.current_url
          and not page.by_testid("login-error"), "the token is nowhere in the page or its URL")
    driver.execute_script("window.__mostaNoReload = 'still here';")

    # 3. Replicas and rules as the catalog has them (the page is a status interval and a poll behind: poll).
    def replicas_match():
        shown, wanted = page.replicas(), catalog_replicas(db)
        same = {k: {f: v[f] for f in ("role", "dialect", "status")} for k, v in shown.items()} == \
               {k: {f: v[f] for f in ("role", "dialect", "status")} for k, v in wanted.items()}
        return same and (shown, wanted)

    matched = poll(30, replicas_match)
    check(matched, "the replicas shown (project, name, role, dialect, status) are the catalog's",
          f"page {page.replicas()}\ncatalog {catalog_replicas(db)}")
    if matched:
        shown, wanted = matched
        print(f"# replicas: {sorted((k[0] + '/' + k[1], v['status']) for k, v in wanted.items())}")

    def lag_shown():
        shown, wanted = page.replicas(), catalog_replicas(db)
        up = [k for k, v in wanted.items() if v["status"] == "up" and v["lag_ms"] != ""]
        return up and all(shown.get(k) and shown[k]["lag_value"] == wanted[k]["lag_ms"]
                          and re.search(r"\d", shown[k]["lag_text"]) for k in up) and \
            [(k, shown[k]["lag_text"]) for k in up]

    lags = poll(30, lag_shown)
    check(lags, f"the lag of every replica up is shown, as the catalog has it: {lags}",
          f"page {page.replicas()}\ncatalog {catalog_replicas(db)}")

    def sparkline_drawn():
        rows = [v for (_, replica), v in page.replicas().items() if replica == args.lag_replica]
        return rows and rows[0]["sparkline_marks"] > 0

    check(poll(30, sparkline_drawn), f"replica {args.lag_replica}: a lag sparkline is drawn from the history")

    def rules_match():
        shown, wanted = page.rules(), catalog_rules(db)
        return {k: {f: v[f] for f in RULE_FIELDS} for k, v in shown.items()} == wanted and shown

    check(poll(30, rules_match),
          "the rules shown (name, mode, status, rows copied, changes, transactions, conflicts) are the catalog's",
          f"page {page.rules()}\ncatalog {catalog_rules(db)}")
    targets = poll(30, lambda: page.targets() == catalog_targets(db) and page.targets())
    check(targets, f"the targets shown (rule, replica, slot) are the catalog's: {targets}",
          f"page {page.targets()}\ncatalog {catalog_targets(db)}")
    reads = poll(30, lambda: page.reads().get(args.project) == psql_rows(
        db, f"SELECT mosta_read_replica('{args.project}')")[0][0] and page.reads()[args.project])
    check(reads, f"project {args.project}: reads go to {reads!r}, as mosta_read_replica says", page.reads())

    # 4. The activity feed (topology version 2) is the catalog's 30 most recent entries, newest first.
    with open(args.tree, encoding="utf-8") as f:
        version = json.load(f).get("version")
    if version and version >= 2:
        def latest():
            return [row[0] for row in psql_rows(db, "SELECT action FROM mosta.activity ORDER BY id DESC LIMIT 30")]

        shown = poll(30, lambda: page.activity() == latest() and page.activity())
        check(shown, f"the activity feed shows the catalog's latest entries: {shown}",
              f"page {page.activity()}\ncatalog {latest()}")
    else:
        ok(f"the activity feed # SKIP the topology file is version {version}, which carries no activity")

    # 5. A string of the topology holding markup shows as text; nothing of it runs.
    def xss_shown():
        rows = [v for (_, replica), v in page.replicas().items() if replica == args.xss_replica]
        return rows and "<script>" in rows[0]["error"] and rows[0]["error"]

    shown = poll(30, xss_shown)
    check(shown, f"replica {args.xss_replica}: an error text holding <script> shows as text", page.replicas())
    if args.xss_rule:
        shown = poll(30, lambda: "<script>" in (page.rules().get(args.xss_rule, {}).get("error") or ""))
        check(shown, f"rule {args.xss_rule}: an error text holding <script> shows as text", page.rules())
    ran = driver.execute_script("return [window.__mostaXss, document.querySelectorAll('main script, main img').length]")
    check(ran == [None, 0], "no script of the topology ran, no element was made from it", ran)

    # 6. Rows inserted on the source: the rule's changes counter moves on the page, without a reload.
    # every rate the page shows from now on, caught at each render (a rate may be shown for a second only)
    driver.execute_script("""
        const rule = arguments[0];
        window.__mostaRates = [];
        new MutationObserver(() => {
            const cell = document.querySelector(
                '[data-testid="rule-row"][data-rule="' + CSS.escape(rule) + '"] [data-testid="rule-changes-rate"]');
            if (cell) window.__mostaRates.push(cell.getAttribute('data-value'));
        }).observe(document.getElementById('main'), { childList: true, subtree: true });
    """, args.rule)
    before = int(catalog_rules(db)[args.rule]["changes"])
    psql(db, f"INSERT INTO {args.table} (id, v) SELECT 100000 + i, 'browser ' || i FROM generate_series(1, 25) i")
    counted = poll(60, lambda: int(catalog_rules(db)[args.rule]["changes"]) >= before + 25)
    check(counted, f"the catalog counts the 25 inserts for rule {args.rule}",
          f"before {before}, now {catalog_rules(db)[args.rule]['changes']}")
    after = catalog_rules(db)[args.rule]["changes"]
    moved = poll(30, lambda: page.rules().get(args.rule, {}).get("changes") == after)
    check(moved, f"the page's changes counter moved from {before} to {after} without a reload",
          page.rules().get(args.rule))
    if moved:
        text = page.rules()[args.rule]["changes_text"]
        check(re.sub(r"\D", "", text) == after, f"the counter reads {text!r}", text)
    rates = poll(10, lambda: [float(v) for v in driver.execute_script("return window.__mostaRates") or [] if v])
    check(any(rate > 0 for rate in rates or []), f"changes/s went above 0 meanwhile (at most {max(rates or [0])})",
          rates)
    check(driver.execute_script("return window.__mostaNoReload") == "still here", "the page was not reloaded")

    # 7. Laptop and phone widths: screenshots, and nothing wider than a 375 px screen.
    driver.set_window_size(*LAPTOP)
    screenshot(driver, args.out, "dashboard-laptop.png")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": PHONE, "height": 812, "deviceScaleFactor": 2, "mobile": True})
    width = poll(10, lambda: driver.execute_script(
        "return document.documentElement.clientWidth === %d && document.documentElement.scrollWidth" % PHONE))
    check(width == PHONE, f"at {PHONE} px wide the page needs no horizontal scrolling", f"scrollWidth {width}")
    screenshot(driver, args.out, "dashboard-phone.png")
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    # 8. The sidecar stops: the stale banner appears, with the reason.
    check(page.stale_banner() is None, "no stale banner while the sidecar reports")
    os.kill(args.sidecar_pid, signal.SIGTERM)
    print("# sidecar: SIGTERM sent", flush=True)
    banner = poll(60, page.stale_banner)
    check(banner and "not reporting" in banner, f"the sidecar stopped: the stale banner shows: {banner!r}")
    check(driver.execute_script("return window.__mostaNoReload") == "still here", "still without a reload")
    screenshot(driver, args.out, "dashboard-stale.png")


def browser_errors(driver):
    """The browser log's SEVERE entries that are JavaScript errors (an exception, console.error). Failed
    requests (source "network": the 401 of the wrong token) are the test's own doing and only printed."""
    errors = []
    for entry in driver.get_log("browser"):
        if entry.get("level") != "SEVERE":
            continue
        if entry.get("source") == "network":
            print(f"# browser (network): {entry.get('message')}")
            continue
        errors.append(entry)
    return errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tree", required=True)
    parser.add_argument("--sidecar-pid", type=int, required=True)
    parser.add_argument("--project", default="app")
    parser.add_argument("--rule", default="r1")
    parser.add_argument("--table", default="t")
    parser.add_argument("--lag-replica", default="lite")
    parser.add_argument("--xss-replica", default="ghost")
    parser.add_argument("--xss-rule")
    args = parser.parse_args()
    token = os.environ.get("MOSTA_MONITOR_TOKEN", "")
    if not token:
        print("monitor_browser: MOSTA_MONITOR_TOKEN is not set", file=sys.stderr)
        return 2
    profile = tempfile.mkdtemp(prefix="mosta-chromium-")
    driver = None
    try:
        try:
            driver = start_browser(profile)
        except WebDriverException as e:
            print(f"monitor_browser: cannot start chromium through chromedriver: {e.msg}", file=sys.stderr)
            return 2
        try:
            run(args, driver, token)
        except Exception as e:  # a failed step: report it as a result, keep the log check
            not_ok(f"the browser steps ran to the end ({type(e).__name__})", str(e).strip()[:2000])
            try:
                screenshot(driver, args.out, "dashboard-failure.png")
            except WebDriverException:
                pass
        errors = browser_errors(driver)
        check(not errors, "the browser logged no JavaScript error",
              "\n".join(f"{e.get('source')}: {e.get('message')}" for e in errors))
    finally:
        if driver:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    print(f"# browser: {results['passed']} passed, {results['failed']} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
