/* Chatter's notifications in the page: the unread count in the document title and in any
 * element marked [data-chatter-unread], and opt-in desktop notifications.
 *
 * Both are driven by what the page already receives: the title counts the room list's
 * unread badges (chatter.js keeps them live), leaving out muted rooms ([data-muted]); a
 * desktop notification is shown for a room-list frame (an <i data-kind="room"> added to the
 * hidden #chatter-feed) that brings a newer message from someone else in a room that is not
 * muted, while the tab is hidden, and only after the user turned them on with the button of
 * .chatter-notify-toggle (the browser asks for permission on that click, never before). The
 * choice is remembered in this browser's localStorage.
 */
(function () {
  "use strict";

  var KEY = "chatter-notify";
  var PREFIX = /^\(\d+\+?\) /;
  var baseTitle = null;
  var seen = {}; // room hex -> the highest message number this page knows

  function $(id) { return document.getElementById(id); }
  function num(el, name) { return parseInt(el.getAttribute(name), 10) || 0; }
  function me() { var r = document.querySelector("[data-me]"); return r ? r.getAttribute("data-me") : ""; }
  function supported() { return typeof window.Notification === "function"; }
  function stored() {
    try { return window.localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function store(value) {
    try { window.localStorage.setItem(KEY, value); } catch (e) { /* private mode: not remembered */ }
  }
  function enabled() {
    return supported() && Notification.permission === "granted" && stored() === "on";
  }

  /* -- the count ------------------------------------------------------------------------ */

  function rooms() { return $("chatter-rooms"); }

  // The unread count of a room as its badge shows it (chatter.js leaves the open room's
  // at 0 while the tab is visible), 0 for a muted room.
  function unreadOf(li) {
    if (li.hasAttribute("data-muted")) return 0;
    var badge = li.querySelector(".chatter-badge");
    if (!badge || badge.hidden) return 0;
    var count = badge.querySelector(".chatter-badge-count");
    return count ? parseInt(count.textContent, 10) || 0 : 0;
  }

  function total() {
    var list = rooms();
    if (!list) return null;
    var sum = 0;
    Array.prototype.forEach.call(list.querySelectorAll(":scope > li[id]"), function (li) {
      sum += unreadOf(li);
    });
    return sum;
  }

  function showCount() {
    var count = total();
    if (count === null) return;
    if (baseTitle === null) baseTitle = document.title.replace(PREFIX, "");
    var title = count > 0 ? "(" + count + ") " + baseTitle : baseTitle;
    if (document.title !== title) document.title = title;
    document.querySelectorAll("[data-chatter-unread]").forEach(function (el) {
      var text = String(count);
      if (el.textContent !== text) el.textContent = text;
      el.hidden = count === 0;
    });
  }

  var countQueued = false;
  function queueCount() {
    if (countQueued) return;
    countQueued = true;
    setTimeout(function () { countQueued = false; showCount(); }, 0);
  }

  /* -- desktop notifications ------------------------------------------------------------ */

  function words() { return document.querySelector(".chatter-notify-toggle"); }
  function word(name, fallback) {
    var w = words();
    return (w && w.getAttribute("data-" + name)) || fallback;
  }

  function roomUrl(hex, li) {
    var link = li && li.querySelector("a.chatter-room-link");
    if (link) return link.href;
    var list = rooms();
    var item = list ? list.getAttribute("data-item-url") || "" : "";
    var dashed = hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
    return item.replace("00000000-0000-0000-0000-000000000000", dashed).replace(/item\/$/, "");
  }

  function remember() {
    var list = rooms();
    if (!list) return;
    Array.prototype.forEach.call(list.querySelectorAll(":scope > li[id]"), function (li) {
      var hex = li.id.replace("chatter-room-", "");
      if (li.hasAttribute("data-seq")) seen[hex] = Math.max(seen[hex] || 0, num(li, "data-seq"));
    });
  }

  // A room-list frame (already applied by chatter.js): notify if it is news for this user.
  function consider(item) {
    var hex = item.getAttribute("data-room") || "";
    var seq = num(item, "data-seq");
    if (!hex || seq <= (seen[hex] || 0)) return;
    seen[hex] = seq;
    if (item.getAttribute("data-system") || item.getAttribute("data-sender") === me()) return;
    var li = $("chatter-room-" + hex);
    if (li && li.hasAttribute("data-muted")) return;
    if (document.visibilityState !== "hidden" || !enabled()) return;
    var name = item.getAttribute("data-name") || "";
    var titleEl = li && li.querySelector(".chatter-room-title");
    var room = titleEl ? titleEl.textContent : name;
    var mentioned = (item.getAttribute("data-mentions") || "").indexOf(" " + me() + " ") >= 0;
    var title = mentioned ? word("text-mention", "{name} mentioned you in {room}") : word("text-title", "{room}");
    title = title.replace("{name}", name).replace("{room}", room);
    var body = (room === name ? "" : name + ": ") + item.textContent;
    var url = roomUrl(hex, li);
    try {
      var note = new Notification(title, { body: body, tag: "chatter-" + hex, data: { url: url, mention: mentioned } });
      note.onclick = function () {
        window.focus();
        note.close();
        if (url && window.location.pathname !== new URL(url, window.location.href).pathname) window.location.href = url;
      };
    } catch (e) {
      // Some browsers (Chrome on Android) only show notifications from a service worker.
    }
  }

  /* -- the button ----------------------------------------------------------------------- */

  function showToggles() {
    if (!supported()) return;
    document.querySelectorAll(".chatter-notify-toggle").forEach(function (box) {
      box.hidden = false;
      var on = enabled();
      var button = box.querySelector(".chatter-notify-button");
      var state = box.querySelector(".chatter-notify-state");
      if (button) {
        button.textContent = box.getAttribute(on ? "data-button-off" : "data-button-on");
        button.setAttribute("aria-pressed", on ? "true" : "false");
      }
      var text = on ? "data-text-on" : Notification.permission === "denied" ? "data-text-denied" : "data-text-off";
      if (state) state.textContent = box.getAttribute(text) || "";
    });
  }

  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest(".chatter-notify-button");
    if (!button || !supported()) return;
    if (enabled()) {
      store("off");
      showToggles();
      return;
    }
    var asked = Notification.requestPermission(function (p) { done(p); });
    if (asked && asked.then) asked.then(done);
    function done(permission) {
      if (permission === "granted") store("on");
      showToggles();
    }
  });

  /* -- start ---------------------------------------------------------------------------- */

  function start() {
    remember();
    showCount();
    showToggles();
    var list = rooms();
    if (list && window.MutationObserver) {
      new MutationObserver(queueCount).observe(list, {
        subtree: true, childList: true, attributes: true, characterData: true
      });
    }
    var feed = $("chatter-feed");
    if (feed && window.MutationObserver) {
      // chatter.js reads and removes these at once: the records still hold them.
      new MutationObserver(function (records) {
        records.forEach(function (record) {
          Array.prototype.forEach.call(record.addedNodes, function (node) {
            if (node.nodeType !== 1) return;
            var items = node.getAttribute("data-kind") === "room" ? [node] : node.querySelectorAll("[data-kind='room']");
            Array.prototype.forEach.call(items, consider);
          });
        });
        queueCount();
      }).observe(feed, { childList: true, subtree: true });
    }
    document.addEventListener("visibilitychange", queueCount);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
