/**
 * The portal over plain HTTP (no browser needed): escaping by construction, error pages,
 * the headers that keep pages local and un-framable, cross-site forms, static assets,
 * operator sign-in cookies, and what the portal must never show.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { html, join, safeHref } from "../../src/portal/html.ts";
import { startTestServer, SUBSCRIPTION, type TestServer } from "../support/server.ts";
import { importJob, shippable } from "../api/fixtures.ts";

describe("the html template", () => {
  test("escapes every interpolated value, and only once", () => {
    const name = `<script>alert("x")</script>&'`;
    const inner = html`<b>${name}</b>`;
    assert.equal(inner.value, "<b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</b>");
    assert.equal(html`<p>${inner}</p>`.value, `<p>${inner.value}</p>`, "Html is not escaped again");
    assert.equal(
      html`<a title="${'" onmouseover="x'}"></a>`.value,
      '<a title="&quot; onmouseover=&quot;x"></a>',
    );
    assert.equal(html`${[html`<i>1</i>`, "<2>"]}`.value, "<i>1</i>&lt;2&gt;");
    assert.equal(html`${undefined}${null}${false}${0}`.value, "0");
    assert.equal(join([html`<i>1</i>`, html`<b>2</b>`]).value, "<i>1</i><b>2</b>");
    // A string that looks like Html is still a string.
    assert.equal(html`${{ value: "<x>" }}`.value, "[object Object]");
  });

  test("only http(s) URIs from data become links", () => {
    assert.equal(
      safeHref("https://acct.blob.core.windows.net/x/log.xml"),
      "https://acct.blob.core.windows.net/x/log.xml",
    );
    assert.equal(safeHref("javascript:alert(1)"), undefined);
    assert.equal(safeHref(" data:text/html,x"), undefined);
    assert.equal(safeHref(undefined), undefined);
  });
});

describe("portal pages over HTTP", () => {
  let server: TestServer;
  const portal = (path: string) => `${server.url}/portal${path}`;
  const jobPage = (rg: string, name: string) =>
    portal(`/subscriptions/${SUBSCRIPTION}/resourceGroups/${rg}/jobs/${name}`);

  before(async () => {
    server = await startTestServer();
    await server.client().jobs.create("plain", "http", importJob({}, "westus"));
  });
  after(async () => {
    await server.close();
  });

  test("the server's address opened in a browser redirects to the portal", async () => {
    const res = await fetch(`${server.url}/`, { redirect: "manual" });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), "/portal/");
    const landed = await fetch(`${server.url}/`);
    assert.equal(landed.status, 200);
    assert.match(new URL(landed.url).pathname, /^\/portal\//);
    assert.match(await landed.text(), /<html/);
  });

  test("pages are HTML with a strict content security policy and nothing from elsewhere", async () => {
    const res = await fetch(jobPage("http", "plain"));
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html; charset=utf-8/);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.ok(res.headers.get("x-ms-request-id"), "the service's request id is on pages too");
    const body = await res.text();
    // Every src/href is local (or a fragment / data: icon).
    for (const m of body.matchAll(/\s(?:src|href)="([^"]*)"/g)) {
      assert.match(m[1]!, /^(\/portal\/|#|data:)/, `a reference off the portal: ${m[1]}`);
    }
    assert.doesNotMatch(body, /<script>/, "no inline script");
    assert.doesNotMatch(body, /\sstyle="/, "no inline style");
  });

  test("BitLocker keys never appear on a page", async () => {
    const body = await (await fetch(jobPage("http", "plain"))).text();
    const key = importJob().properties!.driveList![0]!.bitLockerKey!;
    assert.ok(!body.includes(key));
    assert.ok(body.includes("WD-WCC4N1234567"));
  });

  test("static assets: long-lived, revalidated by ETag, and unknown files are 404 pages", async () => {
    const page = await (await fetch(jobPage("http", "plain"))).text();
    const css = /href="(\/portal\/static\/portal\.css\?v=[^"]+)"/.exec(page)?.[1];
    const js = /src="(\/portal\/static\/portal\.js\?v=[^"]+)"/.exec(page)?.[1];
    assert.ok(css && js);
    const res = await fetch(`${server.url}${css}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/css/);
    assert.match(res.headers.get("cache-control") ?? "", /immutable/);
    const etag = res.headers.get("etag")!;
    const again = await fetch(`${server.url}${css}`, { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304);
    const script = await fetch(`${server.url}${js}`);
    assert.match(script.headers.get("content-type") ?? "", /javascript/);
    for (const path of ["/static/nope.css", "/static/..%2F..%2Fpackage.json"]) {
      const missing = await fetch(portal(path));
      assert.equal(missing.status, 404, path);
      assert.match(missing.headers.get("content-type") ?? "", /text\/html/);
    }
  });

  test("an unknown job is a 404 page that says it does not exist or was deleted; unknown pages are 404 pages", async () => {
    let res = await fetch(jobPage("http", "never-was"));
    assert.equal(res.status, 404);
    let body = await res.text();
    assert.match(body, /<h1>Job not found<\/h1>/);
    assert.match(body, /ResourceNotFound/);
    assert.match(body, /does not exist in resource group/);
    assert.match(body, /or it was deleted/);
    res = await fetch(portal("/no/such/page"));
    assert.equal(res.status, 404);
    body = await res.text();
    assert.match(body, /NotFound/);
    assert.match(body, /There is no portal page at &#39;\/portal\/no\/such\/page&#39;/);
    // The JSON 404 of the API is untouched.
    const api = await fetch(`${server.url}/no/such/api`);
    assert.match(api.headers.get("content-type") ?? "", /application\/json/);
  });

  test("bad names in the URL are 400 pages with the API's message, never a 500", async () => {
    const res = await fetch(
      portal(`/subscriptions/${SUBSCRIPTION}/resourceGroups/http/jobs/9-bad-name`),
    );
    assert.equal(res.status, 400);
    const body = await res.text();
    assert.match(body, /InvalidResourceName/);
    assert.match(body, /The job name &#39;9-bad-name&#39; is invalid/);
    assert.doesNotMatch(body, /node_modules|\.ts:\d+|at async/);
    const wizard = await fetch(
      portal(`/subscriptions/${SUBSCRIPTION}/resourceGroups/bad%20rg!/create-job`),
    );
    assert.equal(wizard.status, 400);
    assert.match(await wizard.text(), /InvalidResourceGroupName/);
  });

  test("forms of other sites cannot act: a cross-site POST is refused", async () => {
    const url = `${jobPage("http", "plain")}/cancel`;
    let res = await fetch(url, { method: "POST", headers: { origin: "http://evil.example" } });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /CrossSiteRequest/);
    res = await fetch(url, { method: "POST", headers: { "sec-fetch-site": "cross-site" } });
    assert.equal(res.status, 403);
    const job = await server.client().jobs.get("plain", "http");
    assert.equal(job.properties?.cancelRequested, false, "nothing changed");
  });

  test("pages take form posts only: JSON or other bodies are 415 pages, never a 500", async () => {
    const url = `${jobPage("http", "plain")}/ship`;
    let res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ "deliveryPackage-carrierName": 1 }),
    });
    assert.equal(res.status, 415);
    assert.match(await res.text(), /UnsupportedMediaType/);
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "x",
    });
    assert.equal(res.status, 415);
    assert.match(res.headers.get("content-type") ?? "", /text\/html/);
  });

  test("the progress document: JSON for a live page, 404 JSON when the job is gone", async () => {
    const c = server.client();
    await c.jobs.create("moving", "http", importJob({}, "westus"));
    await c.jobs.update("moving", "http", { ...shippable, state: "Shipping" });
    const url = `${jobPage("http", "moving")}/progress`;
    const page = await (await fetch(jobPage("http", "moving"))).text();
    assert.ok(
      page.includes(
        `data-poll-url="/portal/subscriptions/${SUBSCRIPTION}/resourceGroups/http/jobs/moving/progress"`,
      ),
    );
    let res = await fetch(url);
    assert.equal(res.status, 200);
    const status = (await res.json()) as { state: string; drives: { driveId: string }[] };
    assert.equal(status.state, "Shipping");
    assert.deepEqual(
      status.drives.map((d) => d.driveId),
      ["WD-WCC4N1234567", "WD-WCC4N7654321"],
    );
    assert.ok(!JSON.stringify(status).includes("bitLockerKey"));
    res = await fetch(`${jobPage("http", "never-was")}/progress`);
    assert.equal(res.status, 404);
    assert.equal(
      ((await res.json()) as { error: { code: string } }).error.code,
      "ResourceNotFound",
    );
    // Jobs that only the customer moves (Creating) or that have ended are not polled.
    assert.ok(!(await (await fetch(jobPage("http", "plain"))).text()).includes("data-poll-url"));
  });

  test("operator pages: sign-in needed, key compared exactly, session cookie HttpOnly and SameSite=Strict", async () => {
    let res = await fetch(portal("/operator/"), { redirect: "manual" });
    assert.equal(res.status, 303);
    assert.equal(
      res.headers.get("location"),
      "/portal/operator/login?next=%2Fportal%2Foperator%2F",
    );
    res = await fetch(portal("/operator/receive"), { method: "POST", redirect: "manual" });
    assert.equal(res.status, 401);
    const login = (key: string, next = "/portal/operator/") =>
      fetch(portal("/operator/login"), {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ key, next }).toString(),
      });
    for (const wrong of ["", "x", `${server.operatorKey}x`, server.operatorKey.slice(1)]) {
      res = await login(wrong);
      assert.equal(res.status, 401, `'${wrong}' refused`);
      assert.equal(res.headers.get("set-cookie"), null);
    }
    res = await login(server.operatorKey, "https://evil.example/");
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), "/portal/operator/", "no open redirect");
    const cookie = res.headers.get("set-cookie") ?? "";
    assert.match(cookie, /^drivebay_operator=[\w-]{20,};/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\/portal\/operator/);
    const session = cookie.split(";")[0]!;
    res = await fetch(portal("/operator/"), { headers: { cookie: session } });
    assert.equal(res.status, 200);
    // The session cookie is not an operator credential on the API.
    const api = await fetch(`${server.url}/operator/v1/jobs`, { headers: { cookie: session } });
    assert.equal(api.status, 401);
  });

  test("page requests are counted in the metrics by page name", async () => {
    await fetch(portal(`/subscriptions/${SUBSCRIPTION}/resourceGroups/http/jobs`));
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /Portal_JobList/);
  });
});
