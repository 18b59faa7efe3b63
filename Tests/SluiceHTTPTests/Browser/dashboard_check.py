#!/usr/bin/env python3
"""Drives the Sluice dashboard in headless Chromium (Debian's chromium + chromium-driver,
PyPI selenium): logs in with a token; after jobs of two classes complete and fail, reads the
overview charts' plotted totals (data attributes, not pixels) and checks they equal what
finished; sees a job enqueued through the API appear and complete without a reload; replays a
dead letter; uploads a CSV on the imports tab and sees it imported with a link to its rejects;
on the maintenance tab finds the provoked health problem as a firing check naming its table and
threshold, the partitions table's months ahead against the catalog's ask, and the views table;
checks the page at phone width and in dark mode; saves a screenshot of every tab (paths
printed); and fails on any JavaScript error in the page. Run by DashboardBrowserTests with
SLUICE_API_URL, SLUICE_TEST_TOKEN, SLUICE_SCREENSHOT (the overview's path; the other tabs are
saved beside it) and SLUICE_TEST_SCHEMA in the environment; exit 0 means every step passed.
No step asserts on timing: each waits for its condition within a generous bound."""

import json
import os
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["SLUICE_API_URL"].rstrip("/")
TOKEN = os.environ["SLUICE_TEST_TOKEN"]
SHOT = os.environ["SLUICE_SCREENSHOT"]
SCHEMA = os.environ.get("SLUICE_TEST_SCHEMA", "")
SHOTS = os.path.dirname(SHOT)


def api(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def step(name):
    print("step:", name, flush=True)


def redis_down(driver, wait, errors):
    """Redis unreachable: the page still loads what needs no Redis, and says what is down
    instead of hanging."""
    step("the dashboard without a login redirects to /login")
    driver.get(URL + "/")
    wait.until(lambda d: d.current_url.endswith("/login"))
    driver.find_element(By.ID, "token").send_keys(TOKEN)
    driver.find_element(By.ID, "login").click()
    step("the overview needs only Postgres and RabbitMQ: it loads")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#queues tbody tr")) == 4)
    step("live updates say they are not live")
    wait.until(lambda d: d.find_element(By.ID, "live").text != "connecting…" and d.find_element(By.ID, "live").text != "live")
    step("a Redis read names Redis in the banner, within seconds")
    driver.find_element(By.CSS_SELECTOR, 'header a[data-tab="maintenance"]').click()
    # A hung request would end in the page's own 8 s abort with "did not answer", not name Redis.
    wait.until(lambda d: "redis" in d.find_element(By.ID, "banner").text.lower())
    driver.save_screenshot(SHOT)
    # 503s are expected here; anything else (a script error) is not.
    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE" and "status of 503" not in entry.get("message", ""):
            errors.append(entry.get("message"))


def wait_jobs(ids, states, seconds=90):
    """Polls the API until every job in `ids` is in one of `states` (bounded)."""
    deadline = time.time() + seconds
    pending = set(ids)
    while pending:
        for i in list(pending):
            if api("GET", "/v1/jobs/" + i)["state"] in states:
                pending.discard(i)
        assert time.time() < deadline, "jobs did not finish: %s" % sorted(pending)
        time.sleep(0.2)


def chart_totals(d, chart):
    fig = d.find_element(By.ID, chart)
    total = fig.get_attribute("data-total")
    return (int(float(total)) if total else None), json.loads(fig.get_attribute("data-totals") or "{}")


def expect(wait, what, condition):
    """Waits until `condition(driver)` holds. The live page re-renders its tables on every job
    event, so conditions find their elements afresh each time instead of holding one that may
    go stale; a timeout fails with `what`."""
    try:
        return wait.until(condition)
    except TimeoutException:
        raise AssertionError(what) from None


def text(d, selector):
    return d.find_element(By.CSS_SELECTOR, selector).text


def tab(driver, name):
    driver.find_element(By.CSS_SELECTOR, 'header a[data-tab="%s"]' % name).click()


def shoot(driver, name):
    path = SHOT if name == "overview" else os.path.join(SHOTS, "dashboard-%s.png" % name)
    driver.save_screenshot(path)
    assert os.path.getsize(path) > 1000, "empty screenshot " + path
    print("screenshot:", path, flush=True)
    return path


def no_horizontal_scroll(d):
    return d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")


def main():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900",
              "--lang=en-US"]:
        options.add_argument(a)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    errors = []

    def collect_js_errors():
        for entry in driver.get_log("browser"):
            if entry.get("level") == "SEVERE":
                errors.append(entry.get("message"))

    try:
        # The live page re-renders its tables on every job event: a found element may go stale.
        wait = WebDriverWait(driver, 60, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,))
        if os.environ.get("SLUICE_SCENARIO") == "redis-down":
            redis_down(driver, wait, errors)
            if errors:
                print("JavaScript errors:", *errors, sep="\n  ", file=sys.stderr)
                return 1
            print("ok")
            return 0
        step("the dashboard without a login redirects to /login")
        driver.get(URL + "/")
        wait.until(lambda d: d.current_url.endswith("/login"))
        driver.find_element(By.ID, "token").send_keys(TOKEN)
        driver.find_element(By.ID, "login").click()
        step("logged in: the overview lists the four classes")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#queues tbody tr")) == 4)
        wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
        page_id = driver.execute_script("window.__sluicePage = Math.random(); return window.__sluicePage;")

        step("jobs of two classes complete and fail: the overview charts plot exactly those")
        completed = {"analytics": 4, "import": 3}
        failed = {"analytics": 1, "import": 1}
        ids = []
        for cls, n in completed.items():
            for i in range(n):
                ids.append(api("POST", "/v1/jobs", {"kind": "sys.noop", "class": cls, "args": {"chart": i}})["id"])
        for cls, n in failed.items():
            for i in range(n):
                # Runs 3 s with a 1 s timeout and one attempt: discarded.
                ids.append(api("POST", "/v1/jobs", {"kind": "sys.sleep", "class": cls, "args": {"ms": 3000}, "timeout_s": 1,
                                                    "max_attempts": 1})["id"])
        wait_jobs(ids, ("completed", "discarded"))
        want_completed, want_failed = sum(completed.values()), sum(failed.values())
        nonzero = lambda totals: {k: v for k, v in totals.items() if v}
        expect(wait, "the completed chart does not plot %d jobs %s" % (want_completed, completed),
               lambda d: chart_totals(d, "chart-completed")[0] == want_completed
               and nonzero(chart_totals(d, "chart-completed")[1]) == completed)
        expect(wait, "the failed chart does not plot %d jobs %s" % (want_failed, failed),
               lambda d: chart_totals(d, "chart-failed")[0] == want_failed and nonzero(chart_totals(d, "chart-failed")[1]) == failed)
        print("charts: completed %d %s, failed %d %s" % (want_completed, completed, want_failed, failed), flush=True)
        # The run-time chart has a p95 line for both classes; the queue charts have samples.
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, '#chart-runtime path[data-series="analytics"]')) == 1
                   and len(d.find_elements(By.CSS_SELECTOR, '#chart-runtime path[data-series="import"]')) == 1)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chart-depth path")) >= 1)
        # The hover read-out names the classes.
        webdriver.ActionChains(driver).move_to_element(driver.find_element(By.CSS_SELECTOR, "#chart-completed svg")).perform()
        wait.until(lambda d: "analytics" in d.find_element(By.CSS_SELECTOR, "#chart-completed .tip").text)
        step("the 24 h window plots the same jobs")
        driver.find_element(By.ID, "win-24h").click()
        wait.until(lambda d: d.find_element(By.ID, "p95-head").text == "p95 (24h)")
        wait.until(lambda d: chart_totals(d, "chart-completed")[0] == want_completed and chart_totals(d, "chart-failed")[0] == want_failed)
        driver.find_element(By.ID, "win-1h").click()
        wait.until(lambda d: d.find_element(By.ID, "p95-head").text == "p95 (1h)")
        shoot(driver, "overview")

        step("a job enqueued through the API appears and completes without a reload")
        tab(driver, "jobs")
        job = api("POST", "/v1/jobs", {"kind": "sys.noop", "args": {"from": "browser"}})
        sel = 'tr[data-id="%s"] td.state' % job["id"]
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, sel)) == 1)
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, sel).text == "completed")
        assert driver.execute_script("return window.__sluicePage;") == page_id, "the page reloaded"
        step("ids are copyable and times show the absolute time on hover")
        row = 'tr[data-id="%s"]' % job["id"]
        expect(wait, "the job's id is not shown whole on hover",
               lambda d: d.find_element(By.CSS_SELECTOR, row + " .id").get_attribute("title") == job["id"])
        expect(wait, "the copy button did not answer", lambda d: d.find_element(By.CSS_SELECTOR, row + " button.copy").click() or True)
        expect(wait, "no absolute time on hover", lambda d: "T" in d.find_element(By.CSS_SELECTOR, row + " time").get_attribute("title"))
        step("a job's detail names who enqueued it (the token's name)")
        expect(wait, "the job's id did not open its detail", lambda d: d.find_element(By.CSS_SELECTOR, row + " .id").click() or True)
        expect(wait, "the job's detail does not say who enqueued it",
               lambda d: "enqueued by api:admin" in d.find_element(By.ID, "job-detail").text)
        shoot(driver, "jobs")

        step("a dead letter is replayed from the dashboard")
        dead = api("POST", "/v1/jobs", {"kind": "sys.sleep", "args": {"ms": 4000}, "timeout_s": 1, "max_attempts": 1})
        wait_jobs([dead["id"]], ("discarded",))
        tab(driver, "dead")
        def click_replay(d):
            for tr in d.find_elements(By.CSS_SELECTOR, "#dead-table tbody tr"):
                if tr.get_attribute("data-id") == dead["id"]:
                    tr.find_element(By.CSS_SELECTOR, "button.replay").click()
                    return True
            return False
        wait.until(lambda d: any(tr.get_attribute("data-id") == dead["id"] for tr in d.find_elements(By.CSS_SELECTOR, "#dead-table tbody tr")))
        shoot(driver, "dead")
        wait.until(click_replay)
        deadline = time.time() + 30
        while True:
            j = api("GET", "/v1/jobs/" + dead["id"])
            if j["state"] in ("available", "running") and j["attempt"] == 1:
                break
            assert time.time() < deadline, "the replay did not requeue the job: %s" % j["state"]
            time.sleep(0.05)

        step("the schedules tab loads")
        tab(driver, "schedules")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#schedule-table tbody tr")) >= 1)
        shoot(driver, "schedules")

        step("a CSV uploaded on the imports tab is imported; its rejects link downloads the bad row")
        tab(driver, "imports")
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
            f.write("email,name\nann@example.test,Ann\nnot-an-email,Bob\n")
            path = f.name
        form = driver.find_element(By.ID, "import-form")
        form.find_element(By.NAME, "spec").send_keys("contacts")
        form.find_element(By.NAME, "file").send_keys(path)
        form.find_element(By.TAG_NAME, "button").click()
        link = 'a.rejects'
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#import-table " + link)) == 1)
        href = driver.find_element(By.CSS_SELECTOR, "#import-table " + link).get_attribute("href")
        req = urllib.request.Request(href, headers={"Authorization": "Bearer " + TOKEN})
        with urllib.request.urlopen(req, timeout=10) as r:
            csv = r.read().decode()
        assert csv.startswith("line,column,reason") and "3,email," in csv, csv
        os.unlink(path)
        shoot(driver, "imports")

        step("maintenance: the provoked health problem is a firing check naming its table and threshold")
        tab(driver, "maintenance")
        audit, events = SCHEMA + ".audit", SCHEMA + ".events"
        check = '.check[data-report="partitions"][data-status="firing"]'
        finding = check + ' tr[data-key="partitions_ahead:%s"]' % audit
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, finding)) == 1)
        expect(wait, "the finding does not name %s" % audit, lambda d: audit in text(d, finding + " td.subject"))
        expect(wait, "the finding's threshold is not the catalog's 2", lambda d: text(d, finding + " td.threshold") == "2")
        expect(wait, "the finding's value is not 0 months ahead", lambda d: text(d, finding + " td.value") == "0")
        expect(wait, "the check's badge does not say firing", lambda d: text(d, check + " .badge") == "firing")
        # A check without findings says so.
        expect(wait, "the views check is not ok",
               lambda d: len(d.find_elements(By.CSS_SELECTOR, '.check[data-report="matviews"][data-status="ok"]')) == 1)
        step("the partitions table shows the months ahead the catalog asks for")
        row = '#partition-table tr[data-table="%s"] '
        expect(wait, "%s: asked 3 ahead, shown %s" % (events, "?"), lambda d: text(d, row % events + "td.asked") == "3")
        expect(wait, "%s: 3 months ahead not shown" % events, lambda d: text(d, row % events + "td.ahead") == "3")
        expect(wait, "%s: DEFAULT rows not 0" % events, lambda d: text(d, row % events + "td.default-rows") == "0")
        expect(wait, "%s: the next drop is not shown" % events,
               lambda d: "drop" in text(d, row % events) and "events_p" in text(d, row % events))
        expect(wait, "%s: asked 2" % audit, lambda d: text(d, row % audit + "td.asked") == "2")
        expect(wait, "%s: 0 ahead" % audit, lambda d: text(d, row % audit + "td.ahead") == "0")
        step("the views table shows the view's schedule and the cached query that depends on it")
        view = '#view-table tr[data-view="%s.contact_counts"]' % SCHEMA
        expect(wait, "the view's age against its 5 min schedule is not shown",
               lambda d: "of every 5.0 min" in text(d, view) and "refresh_contact_counts" in text(d, view))
        expect(wait, "the view's dependent query is not shown", lambda d: text(d, view + " td.dependents") == "contact_count")
        # The screenshot shows the whole tab (checks, partitions, views) with raw JSON closed.
        driver.execute_script("for (const d of document.querySelectorAll('details')) d.open = false; window.scrollTo(0, 0)")
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, min(max(900, height + 140), 2400))
        shoot(driver, "maintenance")
        driver.set_window_size(1280, 900)
        step("the alert links to its report")
        alert = '#alert-table tr[data-alert="partitions_ahead:%s"]' % audit
        expect(wait, "the alert is not listed as firing", lambda d: "firing" in text(d, alert))
        expect(wait, "the alert's report link", lambda d: d.find_element(By.CSS_SELECTOR, alert + " a.report-link").click() or True)
        expect(wait, "the link did not bring the partitions check into view", lambda d: d.execute_script(
            "const r = document.getElementById('check-partitions').getBoundingClientRect(); return r.top < window.innerHeight && r.bottom > 0;"))
        step("raw JSON is one click away")
        expect(wait, "the raw JSON does not open", lambda d: d.find_element(By.CSS_SELECTOR, "#check-partitions details.raw summary").click() or True)
        expect(wait, "the raw JSON lacks the finding", lambda d: '"partitions_ahead:%s"' % audit
               in d.find_element(By.CSS_SELECTOR, "#check-partitions details.raw pre").get_attribute("textContent"))

        step("on a phone: nothing scrolls sideways")
        driver.set_window_size(390, 844)
        tab(driver, "overview")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chart-completed svg")) == 1)
        wait.until(no_horizontal_scroll)
        shoot(driver, "overview-phone")
        tab(driver, "maintenance")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, finding)) == 1)
        wait.until(no_horizontal_scroll)
        shoot(driver, "maintenance-phone")
        driver.set_window_size(1280, 900)

        step("dark mode follows the system")
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        tab(driver, "overview")
        wait.until(lambda d: d.execute_script(
            "const c = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number); return c[0] + c[1] + c[2] < 150;"))
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chart-completed svg")) == 1)
        shoot(driver, "overview-dark")
        collect_js_errors()
    finally:
        try:
            collect_js_errors()
        except Exception:
            pass
        driver.quit()
    if errors:
        print("JavaScript errors:", *errors, sep="\n  ", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
