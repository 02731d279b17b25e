#!/usr/bin/env python3
"""Drives the bureau's review pages in headless Chromium, as a person would: open the review list
(which sends an anonymous visitor to the sign-in form), sign in with the bureau token, open a
submitted report, return it with the comment 请补充照片. Chromium is steered over the DevTools
protocol on loopback at 420 px wide; the pages themselves have no JavaScript.

Usage: python3 Scripts/check-review-flow.py URL BUREAU_TOKEN REPORT_ID SCREENSHOT.png
Expects REPORT_ID (<school>/<period>/<measure>) to be submitted on the server.
"""
import json
import sys

from devtools_browser import Browser

URL, TOKEN, REPORT, SHOT = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
PERIOD = REPORT.split("/")[1]
with Browser(window="420,1400") as browser:
    send, evaluate, act, wait_for_load = browser.send, browser.evaluate, browser.act, browser.wait_for_load

    def fits(what):
        """The page is readable at 420 px: nothing makes it scroll sideways."""
        width = evaluate("document.documentElement.scrollWidth")
        assert evaluate("window.innerWidth") == 420, "the viewport is not 420 px wide"
        if width > 420:
            wide = evaluate("[...document.body.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > 420)"
                            ".slice(-3).map(e => e.tagName + ' ' + e.getBoundingClientRect().width + ' ' + e.outerHTML.slice(0, 80))")
            raise SystemExit(f"FAIL: {what} is {width} px wide at a 420 px window; too wide: {wide}")
        return width

    # A phone's 420 px: headless Chromium keeps a window at least 500 px wide, so the viewport is set here.
    send("Emulation.setDeviceMetricsOverride", width=420, height=1400, deviceScaleFactor=1, mobile=True)
    send("Page.navigate", url=f"{URL}/review?period={PERIOD}&state=submitted")
    wait_for_load()
    assert "/login" in evaluate("location.href"), "an anonymous visit must land on the sign-in form"
    act(f"document.querySelector('input[name=token]').value = {json.dumps(TOKEN)}; document.querySelector('form').submit()")
    text = evaluate("document.body.innerText")
    assert "报告审核" in text and "state=submitted" in evaluate("location.href"), text
    list_width = fits("the review list")
    target = json.dumps("/review/reports/" + REPORT)
    found = evaluate(f"[...document.querySelectorAll('a.name')].some(a => decodeURIComponent(a.getAttribute('href')) === {target})")
    assert found, f"the submitted report {REPORT} is not in the list: {text}"
    act(f"[...document.querySelectorAll('a.name')].find(a => decodeURIComponent(a.getAttribute('href')) === {target}).click()")
    text = evaluate("document.body.innerText")
    assert "已提交 submitted" in text and "退回 Return" in text, text
    report_width = fits("the report page")
    # The school's photo (800 px wide, uploaded by check-pages.sh's sync) is loaded from the server
    # and shown scaled to the phone's width.
    photo = evaluate("(() => { const i = document.querySelector('img[src^=\"/review/evidence/\"]');"
                     " return i ? [i.complete, i.naturalWidth, i.getBoundingClientRect().width] : null })()")
    assert photo and photo[0] and photo[1] == 800 and 0 < photo[2] <= 420, f"the photo is not shown scaled: {photo}"
    act("document.querySelector('textarea[name=comment]').value = '请补充照片';"
        " document.querySelector('input[name=action][value=return]').form.submit()")
    text = evaluate("document.body.innerText")
    assert "已退回学校" in text and "请补充照片" in text and "已退回 returned" in text, text
    fits("the report page after the return")
    browser.screenshot(SHOT)
    print(f"review flow passed in Chromium (sign in, list, report, return with a comment); widths at a 420 px window: "
          f"list {list_width} px, report {report_width} px; screenshot: {SHOT}")
