// The Escalations page, live: when the account's queue changes (server-sent events from
// /escalations/events), the list is read again and swapped in place. Without this script
// the page is a plain page that refreshes itself every 30 seconds.
(function () {
  "use strict";
  var root = document.querySelector("[data-live]");
  if (!root || !window.EventSource || !window.fetch || !window.DOMParser) return;
  var status = root.querySelector("[data-live-status]");
  var url = "/escalations?" + root.getAttribute("data-query");
  var busy = false, again = false;

  function say(text) { if (status) status.textContent = text; }

  function reload() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("[data-queue]");
        var here = root.querySelector("[data-queue]");
        if (fresh && here) here.replaceWith(fresh);
      })
      .catch(function () { /* the next event or poll tries again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; reload(); }
      });
  }

  var source = new EventSource(root.getAttribute("data-live"));
  source.addEventListener("open", function () { say("Oldest unclaimed first. Live: new escalations appear here as they happen."); });
  source.addEventListener("changed", reload);
  // EventSource reconnects by itself; meanwhile the page polls, and reads the list again
  // once the connection is back, in case it missed something.
  source.addEventListener("error", function () { say("Oldest unclaimed first. Reconnecting…"); });
  source.addEventListener("open", reload);
  // Events reach only pages served by the server that saw the change: with several servers
  // on one database, the poll is what brings the others' changes.
  setInterval(reload, 30000);
  // Ages move on even when nothing happens; the poll above keeps them near enough.
})();
