#!/usr/bin/env python3
"""Drives the administrator's pages in headless Chromium, as a person would: sign in with the admin
token, open the list of conflicts, open one, pick a value, give a reason, resolve. Chromium is
steered over the DevTools protocol on loopback; the pages themselves have no JavaScript.

Usage: python3 Scripts/check-admin-flow.py URL ADMIN_TOKEN SCREENSHOT.png
Expects at least one open conflict on the server.
"""
import json
import sys

from devtools_browser import Browser

URL, TOKEN, SHOT = sys.argv[1], sys.argv[2], sys.argv[3]
with Browser(window="420,1200") as browser:
    send, evaluate, act, wait_for_load = browser.send, browser.evaluate, browser.act, browser.wait_for_load
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
    browser.screenshot(SHOT)
    print(f"admin flow passed in Chromium (sign in, list, side by side, resolve); screenshot: {SHOT}")
