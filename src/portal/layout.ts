/** The page shell: skip link, header, navigation, main landmark; and the error pages. */
import { html, type Html } from "./html.ts";

export interface Assets {
  css: string;
  js: string;
}

export interface PageOptions {
  title: string;
  /** Which part of the portal the page belongs to (for the navigation). */
  area: "customer" | "operator";
  body: Html;
  assets: Assets;
  /** The operator (operator pages) or the customer (token auth) is signed in: a sign-out button. */
  signedIn?: boolean;
  /** Links above the heading, from the top down to the page's parent. */
  crumbs?: { href: string; label: string }[];
  /** A short message from the action that led here (Post/Redirect/Get). */
  notice?: string;
}

export function page(o: PageOptions): Html {
  const nav =
    o.area === "customer"
      ? html`<a href="/portal/jobs" aria-current="page">Jobs</a>
          <a href="/portal/operator/">Datacenter</a>`
      : html`<a href="/portal/jobs">Jobs</a>
          <a href="/portal/operator/" aria-current="page">Datacenter</a>`;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${o.title} · drivebay</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="${o.assets.css}" />
        <script src="${o.assets.js}" defer></script>
      </head>
      <body>
        <a class="skip-link" href="#main">Skip to main content</a>
        <header class="site-header">
          <a class="brand" href="/portal/">drivebay</a>
          <nav aria-label="Portal">${nav}</nav>
          ${
            o.signedIn
              ? html`<form
                  method="post"
                  action="${o.area === "customer" ? "/portal/signout" : "/portal/operator/logout"}"
                  class="signout"
                >
                  <button type="submit" class="link-button">Sign out</button>
                </form>`
              : undefined
          }
        </header>
        <main id="main" tabindex="-1">
          ${
            o.crumbs && o.crumbs.length > 0
              ? html`<nav aria-label="Breadcrumb" class="crumbs">
                  <ol>
                    ${o.crumbs.map((c) => html`<li><a href="${c.href}">${c.label}</a></li>`)}
                  </ol>
                </nav>`
              : undefined
          }
          ${
            o.notice
              ? html`<div class="notice" role="status" id="notice">${o.notice}</div>`
              : undefined
          }
          ${o.body}
        </main>
      </body>
    </html>`;
}

export interface ErrorPageOptions {
  status: number;
  code: string;
  message: string;
  title?: string;
  /** Extra help below the message (e.g. a link back). */
  help?: Html;
  area?: "customer" | "operator";
  assets: Assets;
  signedIn?: boolean;
}

/** Every 4xx/5xx page: the status, the error code and the message; never a stack trace. */
export function errorPage(o: ErrorPageOptions): Html {
  return page({
    title: o.title ?? `Error ${o.status}`,
    area: o.area ?? "customer",
    assets: o.assets,
    signedIn: o.signedIn,
    body: html`<h1>${o.title ?? "Something went wrong"}</h1>
      <div class="error-box" role="alert">
        <p class="error-code">Error ${o.status}: <code data-testid="error-code">${o.code}</code></p>
        <p data-testid="error-message">${o.message}</p>
      </div>
      ${o.help ?? html`<p><a href="/portal/jobs">Back to the jobs</a></p>`}`,
  });
}
