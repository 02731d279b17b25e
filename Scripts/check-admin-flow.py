#!/usr/bin/env python3
"""Drives the administrator's pages in headless Chromium, as a person would: sign in with the admin
token, open the list of conflicts, open one, pick a value, give a reason, resolve. Chromium is
steered over the DevTools protocol on loopback; the pages themselves have no JavaScript.

Usage: python3 Scripts/check-admin-flow.py URL ADMIN_TOKEN SCREENSHOT.png
Expects at least one open conflict on the server.
"""
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

URL, TOKEN, SHOT = sys.argv[1], sys.argv[2], sys.argv[3]
profile = tempfile.mkdtemp()
chrome = subprocess.Popen(
    ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--remote-debugging-address=127.0.0.1",
     "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=420,1200", "about:blank"],
    stderr=subprocess.PIPE, text=True)
try:
    deadline = time.time() + 30
    port = None
    while port is None and time.time() < deadline:
        line = chrome.stderr.readline()
        match = re.search(r"ws://127\.0\.0\.1:(\d+)/", line)
        port = match.group(1) if match else None
    if port is None:
        raise SystemExit("FAIL: Chromium did not open its DevTools port")
    targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
    page = next(t for t in targets if t["type"] == "page")
    ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
    counter = 0

    def send(method, **params):
        global counter
        counter += 1
        ws.send(json.dumps({"id": counter, "method": method, "params": params}))
        while True:
            message = json.loads(ws.recv())
            if message.get("id") == counter:
                if "error" in message:
                    raise SystemExit(f"FAIL: {method}: {message['error']}")
                return message.get("result", {})

    def wait_for_load():
        while True:
            message = json.loads(ws.recv())
            if message.get("method") == "Page.loadEventFired":
                return

    def evaluate(expression):
        return send("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def act(expression):
        """Runs an action that navigates, and waits for the next page."""
        send("Runtime.evaluate", expression=expression)
        wait_for_load()

    send("Page.enable")
    send("Page.navigate", url=f"{URL}/admin/conflicts")
    wait_for_load()
    assert "/login" in evaluate("location.href"), "an anonymous visit must land on the sign-in form"
    act(f"document.querySelector('input[name=token]').value = {json.dumps(TOKEN)}; document.querySelector('form').submit()")
    text = evaluate("document.body.innerText")
    assert "冲突 Conflicts" in text, text
    link = evaluate("document.querySelector('a.name').getAttribute('href')")
    assert link and link.startswith("/admin/conflicts/"), text
    act("document.querySelector('a.name').click()")
    text = evaluate("document.body.innerText")
    assert "«" in text and "Resolve" in text, text
    act("document.querySelector('input[name=reason]').value = '浏览器中解决'; document.querySelector('form[action^=\"/admin/conflicts\"]').submit()")
    text = evaluate("document.body.innerText")
    assert "已解决 Resolved" in text, text
    shot = send("Page.captureScreenshot", format="png")
    import base64
    with open(SHOT, "wb") as file:
        file.write(base64.b64decode(shot["data"]))
    print(f"admin flow passed in Chromium (sign in, list, side by side, resolve); screenshot: {SHOT}")
finally:
    chrome.terminate()
    chrome.wait(timeout=30)
