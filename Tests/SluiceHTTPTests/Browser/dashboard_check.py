#!/usr/bin/env python3
"""Drives the Sluice dashboard in headless Chromium (Debian's chromium + chromium-driver,
PyPI selenium): logs in with a token, sees a job enqueued through the API appear and complete
without a reload, replays a dead letter, uploads a CSV on the imports tab and sees it imported
with a link to its rejects, saves a screenshot of the overview, and fails on any
JavaScript error in the page. Run by DashboardBrowserTests with SLUICE_API_URL, SLUICE_TEST_TOKEN
and SLUICE_SCREENSHOT in the environment; exit 0 means every step passed."""

import json
import os
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["SLUICE_API_URL"].rstrip("/")
TOKEN = os.environ["SLUICE_TEST_TOKEN"]
SHOT = os.environ["SLUICE_SCREENSHOT"]


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
    started = time.time()
    wait.until(lambda d: "redis" in d.find_element(By.ID, "banner").text.lower())
    assert time.time() - started < 8, "the banner took too long"
    driver.save_screenshot(SHOT)
    # 503s are expected here; anything else (a script error) is not.
    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE" and "status of 503" not in entry.get("message", ""):
            errors.append(entry.get("message"))


def main():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"]:
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
        wait = WebDriverWait(driver, 25, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,))
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

        step("a job enqueued through the API appears and completes without a reload")
        driver.find_element(By.CSS_SELECTOR, 'header a[data-tab="jobs"]').click()
        job = api("POST", "/v1/jobs", {"kind": "sys.noop", "args": {"from": "browser"}})
        sel = 'tr[data-id="%s"] td.state' % job["id"]
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, sel)) == 1)
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, sel).text == "completed")
        assert driver.execute_script("return window.__sluicePage;") == page_id, "the page reloaded"

        step("a dead letter is replayed from the dashboard")
        dead = api("POST", "/v1/jobs", {"kind": "sys.sleep", "args": {"ms": 4000}, "timeout_s": 1, "max_attempts": 1})
        deadline = time.time() + 20
        while api("GET", "/v1/jobs/" + dead["id"])["state"] != "discarded":
            assert time.time() < deadline, "the job was not dead-lettered"
            time.sleep(0.1)
        driver.find_element(By.CSS_SELECTOR, 'header a[data-tab="dead"]').click()
        def click_replay(d):
            for tr in d.find_elements(By.CSS_SELECTOR, "#dead-table tbody tr"):
                if tr.find_elements(By.TAG_NAME, "td")[0].text == dead["id"]:
                    tr.find_element(By.CSS_SELECTOR, "button.replay").click()
                    return True
            return False
        wait.until(click_replay)
        deadline = time.time() + 10
        while True:
            j = api("GET", "/v1/jobs/" + dead["id"])
            if j["state"] in ("available", "running") and j["attempt"] == 1:
                break
            assert time.time() < deadline, "the replay did not requeue the job: %s" % j["state"]
            time.sleep(0.05)

        step("a CSV uploaded on the imports tab is imported; its rejects link downloads the bad row")
        driver.find_element(By.CSS_SELECTOR, 'header a[data-tab="imports"]').click()
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

        step("screenshot of the overview")
        driver.find_element(By.CSS_SELECTOR, 'header a[data-tab="overview"]').click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#queues tbody tr")) == 4)
        time.sleep(0.5)
        driver.save_screenshot(SHOT)
        assert os.path.getsize(SHOT) > 1000, "empty screenshot"
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
