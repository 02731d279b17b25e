#!/usr/bin/env python3
"""Fills in a report in the school's workbench (`schoolsync ui`) with plain HTTP, as a browser does
when a person clicks: opens the printed link (which sets the session cookie), reads the report
page, posts its form back with the hidden `csrf` and `seen` fields and every other field as the
page filled it, then the submit and sync buttons' forms. Prints what the person would see: the
page's notice and the status line's count of records waiting to be sent. No JavaScript, no browser.

Usage: python3 Scripts/workbench-form.py LINK --period P --measure M [--set NAME=VALUE ...] [--submit] [--sync]
  --set status=in_progress --set narrative=… --set n:qixing-2024/i1=1126 --set d:qixing-2024/i1=1000
  (the form's field names: status, narrative, n:/d: for a rate, v: for a number, f: for a milestone)
The steps run in this order: save (when a field is set), submit, sync. Exits 1 when the workbench
refuses a step, printing the page's problem.
"""
import argparse
import html.parser
import http.cookiejar
import sys
import urllib.error
import urllib.parse
import urllib.request


class Page(html.parser.HTMLParser):
    """A page's forms (action → the fields a browser sends) and the text of a few elements by id."""

    SHOWN = ("notice", "problem", "pending", "workflow", "review-comment")

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.forms = {}
        self.texts = {}
        self.form = None
        self.textarea = None
        self.select = None
        self.capture = None  # [id, tag, depth, parts]
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self.capture and tag == self.capture[1]:
            self.capture[2] += 1
        elif a.get("id") in self.SHOWN and not self.capture:
            self.capture = [a["id"], tag, 1, []]
        if tag == "form":
            self.form = self.forms.setdefault(a.get("action", ""), [])
        elif self.form is None or "disabled" in a:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a or kind in ("submit", "button", "reset", "image", "file"):
                return
            self.form.append([a["name"], a.get("value", "on" if kind in ("checkbox", "radio") else "")])
        elif tag == "textarea" and a.get("name"):
            self.textarea = [a["name"], ""]
            self.form.append(self.textarea)
        elif tag == "select" and a.get("name"):
            self.select = {"field": [a["name"], None], "chosen": False}
            self.form.append(self.select["field"])
        elif tag == "option" and self.select is not None:
            # A select sends its selected option, else its first.
            if "selected" in a or self.select["field"][1] is None and not self.select["chosen"]:
                self.select["field"][1] = a.get("value", "")
                self.select["chosen"] = self.select["chosen"] or "selected" in a

    def handle_endtag(self, tag):
        if self.capture and tag == self.capture[1]:
            self.capture[2] -= 1
            if self.capture[2] == 0:
                self.texts[self.capture[0]] = " ".join("".join(self.capture[3]).split())
                self.capture = None
        if tag == "form":
            self.form = None
        elif tag == "textarea" and self.textarea:
            # A browser drops the one line break that may follow <textarea>.
            if self.textarea[1].startswith("\n"):
                self.textarea[1] = self.textarea[1][1:]
            self.textarea = None
        elif tag == "select":
            self.select = None

    def handle_data(self, data):
        if self.capture:
            self.capture[3].append(data)
        if self.textarea is not None:
            self.textarea[1] += data


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("link", help="the link schoolsync ui printed (http://127.0.0.1:PORT/open?key=…)")
    parser.add_argument("--period", required=True)
    parser.add_argument("--measure", required=True)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a form field to change (repeatable)")
    parser.add_argument("--submit", action="store_true", help="press 提交给教育局 (submit to the bureau)")
    parser.add_argument("--sync", action="store_true", help="press 立即同步 (sync)")
    args = parser.parse_args()
    base = args.link.split("/open?", 1)[0]
    report = f"{base}/report?" + urllib.parse.urlencode({"period": args.period, "measure": args.measure}, safe="/")
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def load(url, fields=None):
        data = urllib.parse.urlencode(fields).encode() if fields is not None else None
        try:
            with browser.open(urllib.request.Request(url, data=data), timeout=120) as response:
                return Page(response.read().decode())
        except urllib.error.HTTPError as error:
            page = Page(error.read().decode())
            sys.exit(f"workbench: HTTP {error.code}: {page.texts.get('problem') or page.texts}")

    def post(page, action, what, changes=()):
        if action not in page.forms:
            sys.exit(f"workbench: the page has no form for {action} ({what}): {page.texts}")
        fields = page.forms[action]
        for name, value in changes:
            if not any(field[0] == name for field in fields):
                sys.exit(f"workbench: the report form has no field {name}; it has {', '.join(f[0] for f in fields)}")
        fields = [(name, dict(changes).get(name, value)) for name, value in fields]
        after = load(base + action, fields)
        print(f"  workbench: {what} → {after.texts.get('notice') or after.texts.get('problem')}  (待发送 {after.texts.get('pending')} 条)")
        if "problem" in after.texts:
            sys.exit(1)
        return after

    load(args.link)  # the session cookie, as opening the link in a browser sets it
    page = load(report)
    print(f"  workbench: opened {report} — 流程 {page.texts.get('workflow')}, 待发送 {page.texts.get('pending')} 条")
    if args.set:
        changes = [tuple(item.split("=", 1)) for item in args.set]
        page = post(page, "/report/save", "保存 save", changes)
    if args.submit:
        page = post(page, "/report/submit", "提交给教育局 submit")
    if args.sync:
        page = post(page, "/sync", "立即同步 sync")
    if "review-comment" in page.texts:
        print(f"  workbench: {page.texts['review-comment']}")


if __name__ == "__main__":
    main()
