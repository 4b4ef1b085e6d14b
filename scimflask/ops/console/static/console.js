// The console works without this file. It adds two things: copy-to-clipboard buttons, and
// the log page's live tail. It builds no markup itself: the tail inserts rows the server
// rendered (and escaped) for it.
(function () {
  "use strict";

  function announce(text) {
    var region = document.getElementById("announce");
    if (region) { region.textContent = ""; region.textContent = text; }
  }

  function copyFrom(field, button) {
    var done = function () {
      button.textContent = "Copied";
      announce("Copied to the clipboard");
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
    } else {
      field.focus();
      field.select();
      try { document.execCommand("copy"); done(); } catch (e) { announce("Press Ctrl+C to copy"); }
    }
  }

  function setUpCopy() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var field = document.getElementById(button.getAttribute("data-copy"));
      if (!field) { return; }
      button.hidden = false;
      button.setAttribute("aria-label", "Copy " + (field.labels && field.labels[0] ? field.labels[0].textContent : ""));
      button.addEventListener("click", function () { copyFrom(field, button); });
    });
  }

  function setUpTail() {
    var box = document.querySelector("[data-tail-url]");
    var rows = document.getElementById("log-rows");
    if (!box || !rows || !window.fetch) { return; }
    var toggle = document.getElementById("tail-toggle");
    var status = document.getElementById("tail-status");
    var timer = null;
    box.hidden = false;

    function newest() {
      var first = rows.querySelector("tr[data-entry-id]");
      return first ? first.getAttribute("data-entry-id") : "";
    }

    function stop(message) {
      if (timer) { clearInterval(timer); timer = null; }
      toggle.checked = false;
      status.textContent = message || "";
    }

    function poll() {
      var url = box.getAttribute("data-tail-url");
      url += (url.indexOf("?") < 0 ? "?" : "&") + "since=" + encodeURIComponent(newest());
      fetch(url, { credentials: "same-origin", redirect: "error", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (!response.ok) { throw new Error(response.status === 401 ? "Signed out: sign in again." : "Stopped (" + response.status + ")."); }
          return response.text();
        })
        .then(function (html) {
          var template = document.createElement("template");
          template.innerHTML = html;
          var added = template.content.querySelectorAll("tr[data-entry-id]");
          for (var i = added.length - 1; i >= 0; i--) { rows.insertBefore(added[i], rows.firstChild); }
          status.textContent = added.length ? added.length + " new" : "";
        })
        .catch(function (error) { stop(error.message || "Stopped."); });
    }

    toggle.addEventListener("change", function () {
      if (toggle.checked) { status.textContent = "Watching…"; poll(); timer = setInterval(poll, 5000); }
      else { stop(""); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { setUpCopy(); setUpTail(); });
}());
