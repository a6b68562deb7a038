"""Drives deskd's web console in Debian's Chromium through Playwright (issue 20).

Run by crates/cli/tests/web_console.rs against a real `deskd serve`; never on its own
browser download (`executable_path` is the system Chromium). Each check prints one line;
screenshots go to --shots; axe-core (--axe) must find no serious or critical violation.

  python browser.py --base URL --admin-password PW --shots DIR --axe axe.min.js --mode full
  python browser.py ... --mode console --desk DESK_ID     (a QEMU desk's screen)
"""

import argparse
import json
import sys
import time

from playwright.sync_api import expect, sync_playwright

TIMEOUT_MS = 60_000
# Debug builds hash passwords slowly on a busy machine: conditions get a minute, not 5 s.
expect.set_options(timeout=TIMEOUT_MS)
ZH = "zh-CN"

checks = []


def ok(what):
    checks.append(what)
    print(f"ok - {what}", flush=True)


class Run:
    def __init__(self, args, browser):
        self.a = args
        self.browser = browser
        self.shots = []
        self.axe_findings = []

    def page(self, locale=ZH):
        ctx = self.browser.new_context(viewport={"width": 1366, "height": 860}, locale=locale)
        ctx.set_default_timeout(TIMEOUT_MS)
        pg = ctx.new_page()
        pg.on("pageerror", lambda e: print(f"page error: {e}", file=sys.stderr))
        pg.goto(self.a.base + "/")
        return pg

    def shot(self, pg, name):
        path = f"{self.a.shots}/{name}.png"
        pg.screenshot(path=path, full_page=True)
        self.shots.append(path)

    def axe(self, pg, name):
        """axe-core on the screen as it is; serious and critical violations are kept."""
        if not self.a.axe:
            return
        # Evaluated over the DevTools protocol: the page's CSP (script-src 'self') stays on.
        with open(self.a.axe, encoding="utf-8") as f:
            pg.evaluate(f.read() + "\n;undefined")
        r = pg.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        bad = [v for v in r["violations"] if v.get("impact") in ("serious", "critical")]
        for v in bad:
            nodes = [n["target"] for n in v["nodes"][:3]]
            self.axe_findings.append(f"{name}: {v['id']} ({v['impact']}) {v['help']} at {nodes}")
            print(f"axe finding: {self.axe_findings[-1]}", flush=True)
        ok(f"axe-core on {name}: {len(r['violations'])} violations, {len(bad)} serious/critical")

    def sign_in(self, pg, user, password, kind="operator"):
        pg.locator(f"input[name=kind][value={'operator' if kind == 'operator' else 'desktopUser'}]").check()
        pg.fill("#user_name", user)
        pg.fill("#password", password)
        pg.locator("form.login button[type=submit]").click()


# Bytes on the wire for the page and everything it loaded (compressed sizes plus headers).
FIRST_SCREEN_BYTES = (
    "performance.getEntriesByType('resource').reduce((s, r) => s + r.transferSize,"
    " performance.getEntriesByType('navigation')[0].transferSize)"
)


def first_screen(run):
    pg = run.page()
    t0 = time.monotonic()
    expect(pg.locator("form.login")).to_be_visible()
    ok(f"sign-in form shown {1000 * (time.monotonic() - t0):.0f} ms after load")
    timing = pg.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " const p = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint');"
        " const all = [n, ...performance.getEntriesByType('resource')];"
        " const sum = (k) => all.reduce((s, r) => s + r[k], 0);"
        " return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd, fcp: p ? p.startTime : null,"
        " bytes: sum('transferSize'), encoded: sum('encodedBodySize'), decoded: sum('decodedBodySize')}; }"
    )
    print(f"measure: first screen {json.dumps(timing)}", flush=True)
    assert timing["encoded"] < timing["decoded"], f"the first screen came uncompressed: {timing}"
    ok(f"the first screen arrives compressed: {timing['encoded']} bytes of bodies for {timing['decoded']} decoded")
    run.shot(pg, "01-sign-in")
    run.axe(pg, "sign-in")
    return pg


def wrong_password(run, pg):
    run.sign_in(pg, "admin", "not-the-password")
    expect(pg.locator("form.login [role=alert]")).to_be_visible()
    ok("a wrong operator password shows an error")
    run.shot(pg, "02-wrong-password")
    pg.reload()
    run.sign_in(pg, "user01", "not-the-password", kind="user")
    expect(pg.locator("form.login [role=alert]")).to_be_visible()
    ok("a wrong desktop-user password shows an error")


def operator(run, pg):
    run.sign_in(pg, "admin", run.a.admin_password)
    expect(pg.locator("#ov-title")).to_be_visible()
    expect(pg.locator(".tile").first).to_be_visible()
    ok("the operator signs in and sees the fleet overview")
    run.shot(pg, "03-overview")
    run.axe(pg, "overview")

    pg.goto(run.a.base + "/#/desks")
    expect(pg.locator("table.desks tbody tr[data-desk-id]").first).to_be_visible()
    batch_create(run, pg)
    paging_sort_filter(run, pg)
    start_from_table(run, pg)
    run.shot(pg, "05-desks")
    run.axe(pg, "desks")
    boot_storm(run, pg)
    users_csv(run, pg)
    users_edit_and_password(run, pg)
    users_reset_password(run, pg)
    for screen in ["images", "osFiles", "strategies", "networks", "clusters", "hosts", "pools", "alerts"]:
        pg.goto(f"{run.a.base}/#/{screen}")
        expect(pg.locator("table.grid")).to_be_visible()
        run.shot(pg, f"07-{screen}")
    ok("images, OS files, strategies, networks, clusters, hosts, pools and alerts screens show")
    network_form(run, pg)
    strategy_form(run, pg)
    catalog_deletes(run, pg)
    pg.goto(run.a.base + "/#/charts")
    expect(pg.locator(".chart")).to_have_count(4)
    run.shot(pg, "08-charts")
    ok("the charts screen draws CPU, memory, disk and network")
    language(run, pg)
    desk = pg.evaluate(
        "async () => { const r = await fetch('/v1/desk:pagequery', {method:'PUT'}); return r.status; }"
    )
    assert desk == 401, f"an API call without the in-memory token must be refused, got {desk}"
    ok("the page's own fetch without the token is refused: the token is not in a cookie")


def task_panel(pg, title_part):
    return pg.locator("aside.tasks section.task", has_text=title_part).first


def wait_finished(pg, task, total):
    expect(task).to_have_attribute("data-status", "FINISHED", timeout=120_000)
    expect(task.locator(".total-count")).to_have_text(str(total))
    expect(task.locator(".done-count")).to_have_text(str(total))
    bar = task.locator("progress")
    assert bar.get_attribute("value") == bar.get_attribute("max") == str(total), "progress bar not full"


def batch_create(run, pg):
    form = pg.locator("form.batch")
    expect(form.locator("button[type=submit]")).to_be_enabled()
    form.locator("input[name=count]").fill("20")
    form.locator("input[name=prefix]").fill("webtest")
    form.locator("button[type=submit]").click()
    task = task_panel(pg, "webtest")
    expect(task.locator(".total-count")).to_have_text("20")
    wait_finished(pg, task, 20)
    expect(task.locator("ol.results li")).to_have_count(20)
    ok("batch-create of 20 desks: the progress bar reaches 20/20 and shows 20 results")
    run.shot(pg, "04-batch-create")


def names(pg):
    return pg.locator("table.desks tbody tr[data-desk-id] td.c-desk_name").all_inner_texts()


def paging_sort_filter(run, pg):
    total = int(pg.locator(".desk-total").inner_text())
    assert total >= 30, f"expected at least 30 desks, saw {total}"
    first = names(pg)
    assert len(first) == 20, f"a page holds 20 rows, saw {len(first)}"
    pg.get_by_role("button", name="下一页").click()
    expect(pg.locator(".page-no")).to_have_text("2")
    expect(pg.locator("table.desks tbody tr[data-desk-id]")).to_have_count(min(20, total - 20))
    assert not set(names(pg)) & set(first), "page 2 repeats rows of page 1"
    ok(f"the desk table pages on the server ({total} desks, page 2 differs from page 1)")

    pg.locator("button.sort[data-sort=desktopName]").click()
    expect(pg.locator("th[aria-sort=ascending]")).to_have_count(1)
    expect(pg.locator(".page-no")).to_have_text("1")
    pg.wait_for_timeout(300)
    asc = names(pg)
    pg.locator("button.sort[data-sort=desktopName]").click()
    expect(pg.locator("th[aria-sort=descending]")).to_have_count(1)
    pg.wait_for_function("(prev) => { const c = [...document.querySelectorAll('td.c-desk_name')].map(e => e.textContent); return c.length && c[0] !== prev; }", arg=asc[0])
    desc = names(pg)
    assert asc[0] < desc[0], f"sorting by name: {asc[:3]} then {desc[:3]}"
    ok("the desk table sorts by name ascending and descending on the server")

    pg.locator("form.filters select[name=state]").select_option("RUNNING")
    pg.locator("form.filters button[type=submit]").click()
    pg.wait_for_function("() => [...document.querySelectorAll('table.desks tbody tr[data-desk-id]')].every(r => r.dataset.state === 'RUNNING')")
    running = int(pg.locator(".desk-total").inner_text())
    assert 0 < running < total, f"{running} running of {total}"
    ok(f"the state filter shows only RUNNING desks ({running} of {total})")


def start_from_table(run, pg):
    pg.locator("form.filters select[name=state]").select_option("CLOSE")
    pg.locator("form.filters button[type=submit]").click()
    pg.wait_for_function("() => { const r = [...document.querySelectorAll('table.desks tbody tr[data-desk-id]')]; return r.length && r.every(x => x.dataset.state === 'CLOSE'); }")
    row = pg.locator("table.desks tbody tr[data-desk-id]").first
    name = row.locator("td.c-desk_name").inner_text()
    row.locator("input[type=checkbox]").check()
    pg.locator("button[data-action=start]").click()
    task = task_panel(pg, name)
    expect(task).to_be_visible()
    wait_finished(pg, task, 1)
    ok(f"start of {name} from the table: its progress bar reaches 1/1")
    pg.locator("form.filters button.ghost").click()


STORM = 10


def boot_storm(run, pg):
    """Ten starts against a guard of one start at a time (the test's flags): the overview's
    boot-storm tile shows them waiting behind the one starting, then the queue drains."""
    # a fresh desk screen: nothing selected from the start before
    pg.goto(run.a.base + "/#/overview")
    pg.goto(run.a.base + "/#/desks")
    expect(pg.locator("table.desks tbody tr[data-desk-id]").first).to_be_visible()
    pg.locator("form.filters select[name=state]").select_option("CLOSE")
    pg.locator("form.filters button[type=submit]").click()
    pg.wait_for_function(
        "(n) => { const r = [...document.querySelectorAll('table.desks tbody tr[data-desk-id]')];"
        " return r.length >= n && r.every(x => x.dataset.state === 'CLOSE'); }",
        arg=STORM,
    )
    rows = pg.locator("table.desks tbody tr[data-desk-id]")
    picked = []
    for i in range(STORM):
        row = rows.nth(i)
        picked.append(row.locator("td.c-desk_name").inner_text())
        row.locator("input[type=checkbox]").check()
    assert all(n.startswith("webtest") for n in picked), f"the storm starts the batch's desks, not {picked}"
    expect(pg.locator(".selected-count")).to_have_text(str(STORM))
    pg.locator("button[data-action=start]").click()
    pg.goto(run.a.base + "/#/overview")
    tile = pg.locator("article.boot-queue")
    pg.wait_for_function("() => Number(document.querySelector('article.boot-queue')?.dataset.waiting) > 0", timeout=120_000)
    waiting = int(tile.get_attribute("data-waiting"))
    expect(tile.locator(".limits")).to_contain_text("1")
    cluster = tile.locator("tr", has_text="demo-cluster")
    expect(cluster).to_be_visible()
    ok(f"the overview shows the boot-storm queue: {waiting} starts waiting behind a limit of one ({cluster.inner_text()!r})")
    run.shot(pg, "03-overview-boot-storm")
    run.axe(pg, "overview with a boot-storm queue")
    pg.wait_for_function(
        "() => { const t = document.querySelector('article.boot-queue');"
        " return t && t.dataset.waiting === '0' && t.dataset.starting === '0'; }",
        timeout=120_000,
    )
    expect(tile.locator("tr", has_text="demo-cluster")).to_have_count(0)
    ok(f"the boot-storm queue drains to 0 waiting, 0 starting once the {STORM} desks run")
    pg.goto(run.a.base + "/#/desks")
    pg.locator("form.filters button.ghost").click()


STAMP = format(int(time.time()) % 10**6, "06d")
CSV_USERS = [f"csv{STAMP}a", f"csv{STAMP}b"]
CSV = (
    "user_name,group,real_name,password\n"
    f"{CSV_USERS[0]},web/csv,Csv One,Web@Test2026\n"
    "_bad name,web/csv,Bad Row,Web@Test2026\n"
    f"{CSV_USERS[1]},web/csv,Csv Two,Web@Test2026\n"
)


def users_csv(run, pg):
    pg.goto(run.a.base + "/#/users")
    expect(pg.locator("table.users tbody tr").first).to_be_visible()
    pg.locator("section.csv input[type=file]").set_input_files(
        files=[{"name": "users.csv", "mimeType": "text/csv", "buffer": CSV.encode()}]
    )
    expect(pg.locator("table.preview tbody tr")).to_have_count(3)
    expect(pg.locator("table.preview tr.bad-row")).to_have_count(1)
    expect(pg.locator("table.preview tr.bad-row")).to_contain_text("user name")
    ok("the CSV preview marks the one bad row with its problem")
    run.shot(pg, "06-users-csv-preview")
    pg.locator("section.csv button").click()
    expect(pg.locator("section.csv .imported")).to_contain_text("2")
    for n in CSV_USERS:
        wait_finished(pg, task_panel(pg, n), 1)
    pg.wait_for_timeout(600)
    pg.goto(run.a.base + "/#/overview")
    pg.goto(run.a.base + "/#/users")
    expect(pg.locator(f"table.users tr[data-user={CSV_USERS[0]}]")).to_be_visible()
    ok("CSV import created the 2 good users and not the bad one")
    run.shot(pg, "06-users")
    run.axe(pg, "users")


PW_USER = "user02"
NEW_PASSWORD = "Web@Reset2026"


def users_edit_and_password(run, pg):
    """Edit a user's real name (6.2.6), disable and enable them, change their password (6.2.9)."""
    pg.goto(run.a.base + "/#/overview")
    pg.goto(run.a.base + "/#/users")
    row = pg.locator(f"table.users tr[data-user={PW_USER}]")
    expect(row).to_be_visible()
    row.locator("button.edit").click()
    form = pg.locator("form.user-edit")
    expect(form.locator("input[name=real_name]")).to_be_visible()
    new_name = f"Edited {STAMP}"
    form.locator("input[name=real_name]").fill(new_name)
    form.locator("input[name=email]").fill("not-an-address")
    run.shot(pg, "13-user-edit")
    run.axe(pg, "user edit")
    form.locator("button[type=submit]").click()
    err = form.locator("[role=alert]")
    expect(err).to_have_attribute("data-field", "email")
    expect(form.locator("input[name=email][aria-invalid=true]")).to_be_visible()
    ok(f"a bad e-mail in the user form shows the server's error at the field: {err.inner_text()}")
    form.locator("input[name=email]").fill(f"{PW_USER}@example.edu")
    form.locator("button[type=submit]").click()
    expect(pg.locator("form.user-edit")).to_have_count(0)
    expect(row.locator("td").nth(2)).to_have_text(new_name)
    ok(f"editing {PW_USER} in the console changes their real name (6.2.6 task)")

    expect(row).to_have_attribute("data-state", "ENABLE")
    row.locator("button.toggle").click()
    expect(row).to_have_attribute("data-state", "DISABLE")
    expect(row.locator("button.toggle")).to_have_text("启用")
    row.locator("button.toggle").click()
    expect(row).to_have_attribute("data-state", "ENABLE")
    expect(row.locator("button.toggle")).to_have_text("禁用")
    ok(f"{PW_USER} is disabled and enabled again from their row")

    row.locator("button.password").click()
    form = pg.locator("form.user-password")
    form.locator("input[name=old_password]").fill("not-the-password")
    form.locator("input[name=new_password]").fill(NEW_PASSWORD)
    form.locator("input[name=confirm]").fill(NEW_PASSWORD)
    form.locator("button[type=submit]").click()
    expect(form.locator("[role=alert]")).to_be_visible()
    expect(form.locator("input[name=old_password][aria-invalid=true]")).to_be_visible()
    ok(f"a wrong current password is refused at its field: {form.locator('[role=alert]').inner_text()}")
    form.locator("input[name=old_password]").fill(run.a.user_password)
    form.locator("input[name=new_password]").fill(NEW_PASSWORD)
    form.locator("input[name=confirm]").fill(NEW_PASSWORD)
    form.locator("button[type=submit]").click()
    expect(form.locator(".saved")).to_be_visible()
    ok(f"{PW_USER}'s password is changed from the console")
    run.shot(pg, "14-user-password")
    run.axe(pg, "user password")


RESET_USER = "user03"
RESET_PASSWORD = "Web@Admin2026"
AD_USER = "webad"


def users_reset_password(run, pg):
    """The operator's reset (extension): no current password, the policy at its field, an AD
    user refused with the server's reason, then a good password set."""
    pg.goto(run.a.base + "/#/overview")
    pg.goto(run.a.base + "/#/users")
    row = pg.locator(f"table.users tr[data-user={RESET_USER}]")
    row.locator("button.reset").click()
    form = pg.locator("form.user-reset")
    expect(form.locator("input[name=old_password]")).to_have_count(0)
    form.locator("input[name=new_password]").fill("short")
    form.locator("input[name=confirm]").fill("short")
    form.locator("button[type=submit]").click()
    err = form.locator("[role=alert]")
    expect(err).to_have_attribute("data-field", "new_password")
    expect(form.locator("input[name=new_password][aria-invalid=true]")).to_be_visible()
    ok(f"a password against the policy is refused at its field: {err.inner_text()}")
    run.shot(pg, "14-user-reset-refused")
    run.axe(pg, "user reset with an error")
    form.locator("input[name=new_password]").fill(RESET_PASSWORD)
    form.locator("input[name=confirm]").fill(RESET_PASSWORD)
    form.locator("button[type=submit]").click()
    expect(form.locator(".saved")).to_be_visible()
    expect(form.locator("[role=alert]")).to_have_count(0)
    ok(f"{RESET_USER}'s password is reset from the console without the current one")
    form.locator("button.ghost").click()

    pg.locator(".tree button", has_text="webdir").click()
    row = pg.locator(f"table.users tr[data-user={AD_USER}]")
    row.locator("button.reset").click()
    form = pg.locator("form.user-reset")
    form.locator("input[name=new_password]").fill(RESET_PASSWORD)
    form.locator("input[name=confirm]").fill(RESET_PASSWORD)
    form.locator("button[type=submit]").click()
    err = form.locator("[role=alert]")
    expect(err).to_contain_text("AD")
    expect(form.locator(".saved")).to_have_count(0)
    ok(f"an AD user's reset shows the server's refusal: {err.inner_text()}")
    form.locator("button.ghost").click()


def delete_row(run, pg, screen, name, refused=None, shot=None):
    """Deletes `name` from `screen` through its row's button and the confirmation dialog.
    With `refused`, the server must refuse with that in its message and the row stays; `shot`
    names the screenshot (and axe pass) of the dialog showing the refusal."""
    pg.goto(f"{run.a.base}/#/{screen}")
    row = pg.locator(f"table.grid tr[data-name='{name}']")
    expect(row).to_be_visible()
    row.locator("button.delete").click()
    dlg = pg.locator("dialog.confirm")
    expect(dlg).to_be_visible()
    expect(dlg.locator(".del-name")).to_have_text(name)
    expect(dlg.locator("button.ghost")).to_be_focused()
    dlg.locator("button.danger").click()
    if refused:
        alert = dlg.locator("[role=alert]")
        expect(alert).to_contain_text(refused)
        expect(alert).to_have_attribute("data-code", "23010000")
        expect(dlg.locator("button.danger")).to_have_count(0)
        text = alert.inner_text().replace("\n", " ")
        if shot:
            run.shot(pg, shot)
            run.axe(pg, f"{screen} delete refused")
        dlg.locator("button.ghost").click()
        expect(dlg).to_have_count(0)
        expect(row).to_be_visible()
        return text
    expect(dlg).to_have_count(0)
    expect(row).to_have_count(0, timeout=120_000)
    return ""


def catalog_deletes(run, pg):
    """Delete on every catalogue and fleet screen: refusals shown in the dialog (an image desks
    use, its OS file, a cluster with desks), accepted deletes gone from the refreshed table."""
    pg.goto(f"{run.a.base}/#/images")
    row = pg.locator("table.grid tr[data-name='VDI Windows 10']")
    row.locator("button.delete").click()
    expect(pg.locator("dialog.confirm")).to_be_visible()
    run.shot(pg, "17-image-delete-confirm")
    run.axe(pg, "delete confirmation")
    pg.keyboard.press("Escape")
    expect(pg.locator("dialog.confirm")).to_have_count(0)
    expect(row).to_be_visible()
    ok("Escape cancels the confirmation and keeps the row")
    why = delete_row(run, pg, "images", "VDI Windows 10", refused="still used", shot="17-image-delete-refused")
    ok(f"deleting an image desks use is refused in the dialog: {why}")
    why = delete_row(run, pg, "osFiles", "win7-x64.qcow2", refused="still used")
    ok(f"deleting an OS file an image is built on is refused: {why}")
    delete_row(run, pg, "images", "IDV Windows 7")
    ok("an unused image is deleted (its task runs) and leaves the table")
    delete_row(run, pg, "osFiles", "win7-x64.qcow2")
    ok("its OS file is deleted once no image is built on it")
    delete_row(run, pg, "strategies", f"webstrat{STAMP}")
    delete_row(run, pg, "networks", f"webnet{STAMP}")
    ok("the strategy and the network made through their forms are deleted")
    delete_row(run, pg, "hosts", SPARE["host"])
    delete_row(run, pg, "pools", SPARE["pool"])
    ok(f"the spare host {SPARE['host']} and pool {SPARE['pool']} are deleted")
    why = delete_row(run, pg, "clusters", "demo-cluster", refused="still used")
    ok(f"deleting a cluster with desks is refused: {why}")
    delete_row(run, pg, "clusters", SPARE["cluster"])
    ok(f"the empty cluster {SPARE['cluster']} is deleted (DELETING, then gone)")
    run.shot(pg, "18-clusters-after-delete")


SPARE = {"cluster": "web-spare-cluster", "host": "web-spare-host", "pool": "web-spare-pool"}


def network_form(run, pg):
    """A network through the form: a bad gateway shows the server's error at that field."""
    pg.goto(run.a.base + "/#/networks")
    form = pg.locator("form.resource[data-kind=networks]")
    expect(form.locator("select[name=cluster_id] option").first).to_be_attached()
    name = f"webnet{STAMP}"
    for field, value in [
        ("desk_network_name", name), ("ip_cidr", "10.91.0.0/24"), ("gateway", "10.91.0.300"),
        ("ip_pool_start", "10.91.0.10"), ("ip_pool_end", "10.91.0.99"), ("dns_primary", "10.91.0.53"),
    ]:
        form.locator(f"input[name={field}]").fill(value)
    form.locator("button[type=submit]").click()
    err = form.locator("[role=alert]")
    expect(err).to_have_attribute("data-field", "gateway")
    expect(err).to_contain_text("gateway")
    expect(form.locator("input[name=gateway][aria-invalid=true]")).to_be_visible()
    ok(f"a bad gateway shows the server's error naming the field: {err.inner_text()}")
    run.shot(pg, "15-network-bad-input")
    run.axe(pg, "network form with an error")
    form.locator("input[name=gateway]").fill("10.91.0.1")
    form.locator("button[type=submit]").click()
    expect(pg.locator(f"table.grid tr[data-name={name}]")).to_be_visible()
    expect(form.locator("[role=alert]")).to_have_count(0)
    ok(f"network {name} is created through the form")


def strategy_form(run, pg):
    """A strategy created and then edited through the forms."""
    pg.goto(run.a.base + "/#/strategies")
    form = pg.locator("form.resource[data-kind=strategies]")
    name = f"webstrat{STAMP}"
    for field, value in [("desk_strategy_name", name), ("cpu_cores", "2"), ("memory", "4"), ("system_disk", "40")]:
        form.locator(f"input[name={field}]").fill(value)
    form.locator("button[type=submit]").click()
    row = pg.locator(f"table.grid tr[data-name={name}]")
    expect(row.locator("td.c-cpu_cores")).to_have_text("2")
    ok(f"strategy {name} is created through the form")
    row.locator("button.edit").click()
    form = pg.locator("form.resource[data-kind=strategies][data-mode=edit]")
    expect(form.locator("input[name=cpu_cores]")).to_have_value("2")
    form.locator("input[name=cpu_cores]").fill("0")
    form.locator("button[type=submit]").click()
    expect(form.locator("[role=alert]")).to_have_attribute("data-field", "cpu_cores")
    ok(f"a zero CPU count is refused at its field: {form.locator('[role=alert]').inner_text()}")
    form.locator("input[name=cpu_cores]").fill("4")
    form.locator("button[type=submit]").click()
    expect(row.locator("td.c-cpu_cores")).to_have_text("4")
    ok(f"strategy {name} is edited through the form (2 → 4 CPUs)")
    run.shot(pg, "16-strategy-edited")
    run.axe(pg, "strategies with their form")


def new_password_sign_in(run):
    """The user whose password the console changed signs in to the portal with the new one."""
    pg = run.page()
    run.sign_in(pg, PW_USER, run.a.user_password, kind="user")
    expect(pg.locator("form.login [role=alert]")).to_be_visible()
    run.sign_in(pg, PW_USER, NEW_PASSWORD, kind="user")
    expect(pg.locator("#portal-title")).to_be_visible()
    ok(f"{PW_USER} signs in with the new password (and no longer with the old one)")
    pg.context.close()


def reset_sign_in(run):
    """The user whose password the operator reset signs in to the portal with it."""
    pg = run.page()
    run.sign_in(pg, RESET_USER, RESET_PASSWORD, kind="user")
    expect(pg.locator("#portal-title")).to_be_visible()
    ok(f"{RESET_USER} signs in to the portal with the password the operator set")
    pg.context.close()


def language(run, pg):
    pg.goto(run.a.base + "/#/desks")
    expect(pg.locator("nav.side")).to_contain_text("云桌面")
    expect(pg.locator("table.desks .badge.s-RUNNING").first).to_have_text("运行中")
    pg.locator("header.top select").select_option("en")
    expect(pg.locator("nav.side")).to_contain_text("Desks")
    expect(pg.locator("table.desks .badge.s-RUNNING").first).to_have_text("Running")
    assert pg.evaluate("document.documentElement.lang") == "en"
    run.shot(pg, "09-desks-english")
    pg.locator("header.top select").select_option("zh-CN")
    expect(pg.locator("nav.side")).to_contain_text("云桌面")
    ok("the language switches between 中文 and English, enumeration labels included")


def canvas_shows_screen(pg):
    """Waits for noVNC's canvas to be connected and hold more than one colour."""
    expect(pg.locator(".screen[data-status=connected]")).to_be_visible(timeout=120_000)
    pg.wait_for_function(
        """() => { const c = document.querySelector('.screen canvas');
           if (!c || !c.width || !c.height) return false;
           const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
           const seen = new Set();
           for (let i = 0; i < d.length; i += 4 * 97) { seen.add((d[i] << 16) | (d[i+1] << 8) | d[i+2]); if (seen.size > 1) return true; }
           return false; }""",
        timeout=120_000,
    )
    return pg.evaluate("() => { const c = document.querySelector('.screen canvas'); return [c.width, c.height]; }")


def portal(run):
    pg = run.page(locale="en-US")
    expect(pg.locator("form.login")).to_be_visible()
    assert pg.evaluate("document.documentElement.lang") == "en", "the browser's language decides"
    run.sign_in(pg, "user01", run.a.user_password, kind="user")
    expect(pg.locator("#portal-title")).to_be_visible()
    card = pg.locator("li.desk-card[data-state=CLOSE]").first
    expect(card).to_be_visible()
    desk = card.get_attribute("data-desk-id")
    ok("the desktop user signs in and sees their desks")
    run.shot(pg, "10-portal")
    run.axe(pg, "portal")
    card.get_by_role("button").click()
    card = pg.locator(f"li.desk-card[data-desk-id='{desk}']")
    expect(card).to_have_attribute("data-state", "RUNNING", timeout=120_000)
    ok("the desktop user starts a desk and waits for it to run")
    card.get_by_role("link").click()
    size = canvas_shows_screen(pg)
    ok(f"the desk's console opens in the portal ({size[0]}x{size[1]}, non-uniform pixels)")
    run.shot(pg, "11-portal-console")
    run.axe(pg, "console")


def console_only(run):
    pg = run.page()
    run.sign_in(pg, "admin", run.a.admin_password)
    expect(pg.locator("#ov-title")).to_be_visible()
    pg.goto(f"{run.a.base}/#/console/{run.a.desk}")
    size = canvas_shows_screen(pg)
    ok(f"the QEMU desk's console shows the guest's screen in Chromium ({size[0]}x{size[1]}, non-uniform pixels)")
    run.shot(pg, "12-qemu-console")


def median(xs):
    xs = sorted(xs)
    return round(xs[len(xs) // 2], 1)


FIRST_ROW_CHANGED = "(prev) => { const c = document.querySelector('td.c-desk_name'); return c && c.textContent !== prev; }"
ONLY_RUNNING = (
    "(prev) => { const r = [...document.querySelectorAll('table.desks tbody tr[data-desk-id]')];"
    " return r.length && r.every(x => x.dataset.state === 'RUNNING')"
    " && document.querySelector('.desk-total').textContent !== prev; }"
)


def timed(pg, action, until, arg):
    """Milliseconds from `action` until the page function `until(arg)` holds."""
    t0 = pg.evaluate("performance.now()")
    action()
    pg.wait_for_function(until, arg=arg)
    return pg.evaluate("performance.now()") - t0


def measure(run):
    """The desk table's costs, for bench/src/bin/web.rs (one JSON line)."""
    fcp, table, nxt, srt, flt = [], [], [], [], []
    page_bytes = heap = nodes = first_bytes = 0
    for _ in range(run.a.repeat):
        pg = run.page()
        expect(pg.locator("form.login")).to_be_visible()
        fcp.append(pg.evaluate("performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint').startTime"))
        first_bytes = pg.evaluate(FIRST_SCREEN_BYTES)
        t0 = pg.evaluate("performance.now()")
        run.sign_in(pg, "admin", run.a.admin_password)
        expect(pg.locator("#ov-title")).to_be_visible()
        pg.goto(run.a.base + "/#/desks")
        expect(pg.locator("td.c-desk_name").first).to_be_visible()
        table.append(pg.evaluate("performance.now()") - t0)
        first = lambda: pg.locator("td.c-desk_name").first.inner_text()  # noqa: E731
        nxt.append(timed(pg, lambda: pg.get_by_role("button", name="下一页").click(), FIRST_ROW_CHANGED, first()))
        srt.append(timed(pg, lambda: pg.locator("button.sort[data-sort=desktopName]").click(), FIRST_ROW_CHANGED, first()))

        def filt():
            pg.locator("form.filters select[name=state]").select_option("RUNNING")
            pg.locator("form.filters button[type=submit]").click()

        flt.append(timed(pg, filt, ONLY_RUNNING, pg.locator(".desk-total").inner_text()))
        page_bytes = pg.evaluate(
            "Math.max(...performance.getEntriesByType('resource').filter(r => r.name.includes('desk:pagequery')).map(r => r.decodedBodySize))"
        )
        heap = pg.evaluate("performance.memory ? performance.memory.usedJSHeapSize / 1048576 : 0")
        nodes = pg.evaluate("document.getElementsByTagName('*').length")
        pg.context.close()
    m = {
        "fcp_ms": median(fcp), "table_ms": median(table), "next_ms": median(nxt),
        "sort_ms": median(srt), "filter_ms": median(flt),
        "page_bytes": page_bytes, "heap_mb": round(heap, 1), "dom_nodes": nodes,
        "first_screen_bytes": first_bytes,
    }
    print("measure: table " + json.dumps(m), flush=True)
    ok("measured the desk table")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--admin-password", required=True)
    p.add_argument("--user-password", default="Demo@2026")
    p.add_argument("--shots", required=True)
    p.add_argument("--axe", default="")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--mode", choices=["full", "console", "measure"], default="full")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--desk", default="")
    a = p.parse_args()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=a.chromium, args=["--no-sandbox", "--disable-dev-shm-usage"])
        run = Run(a, b)
        try:
            if a.mode == "console":
                console_only(run)
            elif a.mode == "measure":
                measure(run)
            else:
                pg = first_screen(run)
                wrong_password(run, pg)
                operator(run, pg)
                portal(run)
                new_password_sign_in(run)
                reset_sign_in(run)
        finally:
            for s in run.shots:
                print(f"screenshot: {s}", flush=True)
            b.close()
    if run.axe_findings:
        print("\n".join(run.axe_findings), file=sys.stderr)
        sys.exit(f"axe-core: {len(run.axe_findings)} serious or critical violations")
    print(f"{len(checks)} passed, 0 failed", flush=True)


if __name__ == "__main__":
    main()
