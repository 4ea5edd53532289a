/* Chatter's message search: keys in the search box and its results, and the message a
 * result opens (chatter/_search_box.html, chatter/_search_results.html).
 *
 * In the box, Down moves to the first result; in the results, Up and Down move between
 * them (Up from the first goes back to the box) and Enter opens one (they are links);
 * Escape, in either, clears the search and returns to the box. A room page opened at a
 * message (?around=N, as results and quotes link) shows that message, marked. */
(function () {
  "use strict";

  function box() { return document.getElementById("chatter-msg-search-q"); }
  function hits() {
    var results = document.getElementById("chatter-msg-results");
    return results ? Array.prototype.slice.call(results.querySelectorAll("a.chatter-hit")) : [];
  }
  function clear() {
    var input = box();
    var results = document.getElementById("chatter-msg-results");
    if (results) results.innerHTML = "";
    if (input) { input.value = ""; input.focus(); }
  }

  document.addEventListener("keydown", function (evt) {
    if (evt.altKey || evt.ctrlKey || evt.metaKey) return;
    var input = box();
    if (!input) return;
    var items = hits();
    var at = items.indexOf(evt.target);
    if (evt.target !== input && at < 0) return;
    if (evt.key === "Escape") {
      if (evt.target === input && !input.value) return;
      evt.preventDefault();
      clear();
    } else if (evt.key === "ArrowDown" && items.length) {
      evt.preventDefault();
      items[Math.min(at + 1, items.length - 1)].focus();
    } else if (evt.key === "ArrowUp" && at >= 0) {
      evt.preventDefault();
      if (at === 0) input.focus(); else items[at - 1].focus();
    }
  });

  // Result times in the reader's locale and time zone, as the room list shows them: the
  // time today, else the date (the server's words stay without JavaScript).
  function localTimes() {
    var lang = document.documentElement.lang || undefined;
    document.querySelectorAll("#chatter-msg-results time[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      try {
        el.textContent = new Date().toDateString() === when.toDateString()
          ? when.toLocaleTimeString(lang, { hour: "numeric", minute: "2-digit" })
          : when.toLocaleDateString(lang, { month: "short", day: "numeric", year: "numeric" });
        el.title = when.toLocaleString(lang);
      } catch (e) { /* an unknown language: the server's words stay */ }
    });
  }
  document.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.target && evt.target.id === "chatter-msg-results") localTimes();
  });

  // The message a link opened the room at: scrolled to (after chatter.js has scrolled the
  // list to its end) and marked until the reader moves on.
  function showTarget() {
    var seq = new URLSearchParams(window.location.search).get("around");
    if (!seq || !/^[0-9]+$/.test(seq)) return;
    var target = document.getElementById("chatter-msg-" + seq);
    if (!target) return;
    target.classList.add("is-found");
    target.setAttribute("tabindex", "-1");
    target.scrollIntoView({ block: "center" });
  }

  function start() { localTimes(); showTarget(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
