"""Headless Chromium steered over the DevTools protocol on loopback, for the page checks
(check-admin-flow.py, check-review-flow.py): open a page, run JavaScript in it, follow the
navigation an action causes, take a screenshot. The pages under test have no JavaScript; this is
only the hand that clicks.

    with Browser(window="420,1200") as browser:
        browser.send("Page.navigate", url=url)
        browser.wait_for_load()
        text = browser.evaluate("document.body.innerText")

Every event that arrives meanwhile is kept in `events` (cleared by `act` and `navigate`), so a check that
enabled a domain (`browser.send("Network.enable")`) can read, e.g., the HTTP status of the page an
action loaded (`document_status()`).
"""
import base64
import json
import re
import subprocess
import tempfile
import time
import urllib.request

import websocket


class Browser:
    def __init__(self, window="420,1200"):
        self.window = window
        self.counter = 0
        self.events = []

    def __enter__(self):
        profile = tempfile.mkdtemp()
        self.chrome = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", f"--window-size={self.window}", "about:blank"],
            stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 30
            port = None
            while port is None and time.time() < deadline:
                match = re.search(r"ws://127\.0\.0\.1:(\d+)/", self.chrome.stderr.readline())
                port = match.group(1) if match else None
            if port is None:
                raise SystemExit("FAIL: Chromium did not open its DevTools port")
            targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
            page = next(t for t in targets if t["type"] == "page")
            self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
            self.send("Page.enable")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        self.chrome.terminate()
        self.chrome.wait(timeout=30)
        return False

    def send(self, method, **params):
        """Sends a DevTools command and returns its result, skipping the events in between."""
        self.counter += 1
        self.ws.send(json.dumps({"id": self.counter, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.counter:
                if "error" in message:
                    raise SystemExit(f"FAIL: {method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for_load(self):
        while True:
            message = json.loads(self.ws.recv())
            if "method" in message:
                self.events.append(message)
            if message.get("method") == "Page.loadEventFired":
                return

    def evaluate(self, expression):
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def act(self, expression):
        """Runs an action that navigates, and waits for the next page."""
        self.events.clear()
        self.send("Runtime.evaluate", expression=expression)
        self.await_load()

    def navigate(self, url):
        """Opens `url` and waits for its page (events cleared as by `act`)."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        self.await_load()

    def await_load(self):
        """Waits for a page load since the events were last cleared: one that fired while a
        command's reply was awaited counts too."""
        if not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.wait_for_load()

    def document_status(self):
        """The HTTP status of the last page loaded since the last `act` (after redirects), when
        the Network domain is enabled; None otherwise."""
        statuses = [e["params"]["response"]["status"] for e in self.events
                    if e.get("method") == "Network.responseReceived" and e["params"].get("type") == "Document"]
        return statuses[-1] if statuses else None

    def screenshot(self, path):
        shot = self.send("Page.captureScreenshot", format="png")
        with open(path, "wb") as file:
            file.write(base64.b64decode(shot["data"]))
