/* drivebay portal: progressive enhancement only. Every page works without this file. */
/* global document, window, fetch */
"use strict";

(function () {
  // After a refused form, take keyboard and screen-reader users to the message.
  var summary = document.querySelector("[data-autofocus]");
  if (summary) summary.focus();

  // The job list's filters: open on wide screens where CSS cannot show them folded-open.
  var fold = document.querySelector(".filters-fold");
  if (fold && window.matchMedia && window.matchMedia("(min-width: 641px)").matches) {
    fold.open = true;
  }

  // Controls that need this script (the wizard's JSON file picker) are shown only with it.
  document.querySelectorAll("[data-js-only]").forEach(function (el) {
    el.hidden = false;
  });
  // The wizard: a chosen `drive prepare --output json` file goes where pasted JSON goes.
  var picker = document.getElementById("f-preparedFile");
  var pasted = document.getElementById("f-preparedJson");
  var fillButton = document.querySelector("[data-fill-drives]");
  if (picker && pasted && fillButton) {
    picker.addEventListener("change", function () {
      var file = picker.files && picker.files[0];
      if (!file) return;
      file.text().then(function (text) {
        pasted.value = text;
        if (fillButton.form && fillButton.form.requestSubmit)
          fillButton.form.requestSubmit(fillButton);
      });
    });
  }

  // Live progress: pages of jobs that the datacenter is moving poll a small JSON document.
  var job = document.querySelector("[data-poll-url]");
  if (!job) return;
  var url = job.getAttribute("data-poll-url");
  var shownState = job.getAttribute("data-state");
  var INTERVAL_MS = 2000;

  function setProgress(container, percent) {
    if (!container) return;
    var bar = container.querySelector("progress");
    var text = container.querySelector(".progress-text");
    var known = typeof percent === "number";
    var p = known ? Math.max(0, Math.min(100, Math.round(percent))) : 0;
    if (bar) {
      bar.value = p;
      bar.textContent = p + "%";
    }
    if (text) text.textContent = known ? p + "%" : "not reported";
  }

  function setText(container, selector, text) {
    var el = container && container.querySelector(selector);
    if (el && text !== undefined && text !== null) el.textContent = String(text);
  }

  function apply(status) {
    if (status.state !== shownState) {
      // A new state brings other actions and history: show the page again.
      window.location.reload();
      return false;
    }
    setProgress(job.querySelector('[data-progress="job"]'), status.percentComplete);
    (status.drives || []).forEach(function (d) {
      var row = null;
      job.querySelectorAll("[data-drive]").forEach(function (r) {
        if (r.getAttribute("data-drive") === d.driveId) row = r;
      });
      if (!row) return;
      setProgress(row.querySelector('[data-progress="drive"]'), d.percentComplete);
      setText(row, '[data-field="driveState"]', d.state);
      setText(row, '[data-field="copyStatus"]', d.copyStatus || "\u2014");
      if (d.bytesText) setText(row, '[data-field="bytesSucceeded"]', d.bytesText);
    });
    return true;
  }

  function poll() {
    if (document.hidden) {
      setTimeout(poll, INTERVAL_MS);
      return;
    }
    fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" })
      .then(function (res) {
        if (res.status === 404) {
          // The job is gone (deleted, or its retention ended): the page says so.
          window.location.reload();
          return null;
        }
        return res.ok ? res.json() : null;
      })
      .then(function (status) {
        if (status === null || apply(status)) setTimeout(poll, INTERVAL_MS);
      })
      .catch(function () {
        setTimeout(poll, INTERVAL_MS * 2);
      });
  }

  setTimeout(poll, INTERVAL_MS);
})();
