/* Chatter's client: the few lines htmx's ws extension leaves to us.
 *
 * It resumes after (re)connects, gives each send a fresh client id, clears and restores
 * the composer, keeps the message list ordered and free of duplicates, keeps the scroll
 * position, and shows the connection state. It applies the data frames the server puts
 * in the hidden #chatter-feed: a room's new last message (each page computes its own
 * unread badge from the room's sequence and its own read position, counts the new
 * messages that mention its user for the "@" badge, and keeps the newest
 * preview), who read a room's last message (this user, in another tab, perhaps), a room
 * it does not show yet, "more after", "retry after" and "reload". It reports reading at most once a second, and only
 * when the read position moved. No inline handlers: htmx runs with allowEval and
 * allowScriptTags off.
 */
(function () {
  "use strict";

  var socket = null; // the ws extension's socketWrapper of this page
  var pending = {}; // client_id -> text, until the server confirms or refuses
  var typingTimer = null;
  var lastTyping = 0;
  var wasAtBottom = true;
  var highestBefore = 0; // the newest sequence before the current frame was swapped in
  var askedAfter = -1; // the last hole asked for: a hole the server cannot fill (a deleted
  // message) must not make every answer ask again
  var olderAnchor = null;
  var lastReadAt = 0; // when the last "read" frame left (at most one a second)
  var readTimer = null;
  var READ_INTERVAL = 1000;

  // Reconnect with full jitter like the ws extension, but capped at 15 s instead of 64 s:
  // a restarted server has its readers back within seconds, still spread out in time.
  if (window.htmx) {
    htmx.config.wsReconnectDelay = function (retryCount) {
      var cap = Math.min(15000, 500 * Math.pow(2, retryCount));
      return 250 + Math.random() * cap;
    };
  }

  function $(id) { return document.getElementById(id); }
  function list() { return $("chatter-messages"); }
  function me() { var r = document.querySelector("[data-me]"); return r ? r.getAttribute("data-me") : ""; }
  function num(el, name) { return parseInt(el.getAttribute(name), 10) || 0; }
  // Write a text only when it changes: in the message log (role="log") a screen reader may
  // announce any change, and a rewrite of the same words is no news.
  function setText(el, text) { if (el.textContent !== text) el.textContent = text; }
  // Times and days in the page's language (<html lang>), as the server's words around them.
  function locale() {
    var lang = document.documentElement.lang;
    try { return lang ? Intl.getCanonicalLocales(lang)[0] : undefined; } catch (e) { return undefined; }
  }
  // A time of day as the page's locale writes it, the hour without a leading zero: "2:31 PM"
  // in en-US, "2:31" and "14:31" in de. One formatter per locale, made once.
  var timeFormats = {};
  function timeOfDay(date) {
    var key = locale() || "";
    if (!timeFormats[key]) {
      timeFormats[key] = new Intl.DateTimeFormat(locale(), { hour: "numeric", minute: "2-digit" });
    }
    return timeFormats[key].format(date);
  }

  function uuid4() {
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function scroller() {
    var l = list();
    if (!l) return null;
    return l.closest("[data-chatter-scroll]") || l;
  }
  function atBottom() {
    var s = scroller();
    return !s || s.scrollHeight - s.scrollTop - s.clientHeight < 40;
  }
  function toBottom() {
    var s = scroller();
    if (s) s.scrollTop = s.scrollHeight;
    var pill = $("chatter-new-pill");
    if (pill) pill.hidden = true;
  }

  function send(data) {
    if (socket) socket.send(JSON.stringify(data));
  }

  /* -- the message list: order, duplicates, gaps, grouping ------------------------------ */

  function messages() {
    var l = list();
    return l ? Array.prototype.slice.call(l.querySelectorAll(":scope > .chatter-msg")) : [];
  }

  function seqOf(el) { return parseInt(el.getAttribute("data-seq"), 10) || 0; }

  // Remove repeated messages and put late ones in their place; return the highest
  // sequence up to which the list has no hole (what a resume asks after).
  function normalise() {
    var l = list();
    if (!l) return 0;
    var seen = {};
    var items = messages();
    items.forEach(function (el) {
      var s = seqOf(el);
      if (seen[s]) el.remove(); else seen[s] = el;
    });
    items = messages();
    for (var i = 1; i < items.length; i++) {
      if (seqOf(items[i]) < seqOf(items[i - 1])) {
        var el = items[i];
        var j = i - 1;
        while (j >= 0 && seqOf(items[j]) > seqOf(el)) j--;
        l.insertBefore(el, j >= 0 ? items[j].nextSibling : l.firstChild);
        items = messages();
      }
    }
    var base = parseInt(l.getAttribute("data-last-seq"), 10) || 0;
    var contiguous = base;
    items.forEach(function (el) {
      var s = seqOf(el);
      if (s === contiguous + 1) contiguous = s;
    });
    if (items.length && seqOf(items[items.length - 1]) < base) contiguous = base;
    l.setAttribute("data-last-seq", String(Math.max(contiguous, base)));
    decorate(items);
    return Math.max(contiguous, base);
  }

  // A message of someone this page's user blocks: the page's style rules hide its text;
  // a button shows it (chatter/_blocked_style.html words it without JavaScript).
  function collapse(el) {
    var r = $("chatter-room");
    var sender = el.getAttribute("data-sender");
    if (!r || !sender || el.classList.contains("is-shown") || el.querySelector(".chatter-blocked-show")) return;
    if ((r.getAttribute("data-blocked") || "").indexOf(" " + sender + " ") < 0) return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "chatter-blocked-show";
    button.setAttribute("data-action", "show-blocked");
    button.textContent = word("blocked-show");
    el.appendChild(button);
    el.classList.add("has-show");
  }

  function highest() {
    var items = messages();
    return items.length ? seqOf(items[items.length - 1]) : 0;
  }

  // A room-list time in the reader's locale: the time today, else the date.
  function localTime(el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when)) return;
    var today = new Date().toDateString() === when.toDateString();
    el.textContent = today
      ? timeOfDay(when)
      : when.toLocaleDateString(locale(), { month: "short", day: "numeric" });
    el.title = when.toLocaleString(locale());
  }

  function dayLabel(date) {
    var today = new Date();
    var start = function (d) { return new Date(d.getFullYear(), d.getMonth(), d.getDate()); };
    var days = Math.round((start(date) - start(today)) / 86400000);
    if (days === 0 || days === -1) {
      var rel = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" }).format(days, "day");
      return rel.charAt(0).toUpperCase() + rel.slice(1);
    }
    return date.toLocaleDateString(locale(), { weekday: "long", year: "numeric", month: "long", day: "numeric" });
  }

  // Local times, day separators, and one name over consecutive messages of one sender.
  // The list is a live region (role="log", aria-relevant="additions") that announces every
  // element added to it: a separator already in its place stays (only its words change,
  // if they must), so each frame adds just its new messages (and a new day's separator).
  function decorate(items) {
    var l = list();
    var keep = [];
    var prev = null;
    items.forEach(function (el) {
      var when = new Date(el.getAttribute("data-time"));
      var time = el.querySelector("time");
      if (time && !isNaN(when)) {
        setText(time, timeOfDay(when));
        var full = when.toLocaleString(locale());
        if (time.title !== full) time.title = full;
      }
      var prevWhen = prev ? new Date(prev.getAttribute("data-time")) : null;
      var newDay = !prevWhen || prevWhen.toDateString() !== when.toDateString();
      if (newDay && !isNaN(when)) {
        var sep = el.previousElementSibling;
        if (!sep || !sep.classList.contains("chatter-day") || keep.indexOf(sep) >= 0) {
          sep = document.createElement("div");
          sep.className = "chatter-day";
          l.insertBefore(sep, el);
        }
        setText(sep, dayLabel(when));
        keep.push(sep);
      }
      var cont = !newDay && prev && prev.getAttribute("data-sender") === el.getAttribute("data-sender") &&
        when - prevWhen < 5 * 60 * 1000;
      el.classList.toggle("chatter-msg--cont", !!cont);
      el.classList.toggle("chatter-msg--mine", el.getAttribute("data-sender") === me());
      // The list is one stop of the Tab key: its messages' links are reached with the
      // arrow keys and the menu (see "message actions"), not one Tab stop each.
      el.querySelectorAll(".chatter-msg-more, .chatter-reaction, .chatter-quote").forEach(function (a) {
        if (a.getAttribute("tabindex") !== "-1") a.setAttribute("tabindex", "-1");
      });
      collapse(el);
      prev = el;
    });
    l.querySelectorAll(":scope > .chatter-day").forEach(function (d) {
      if (keep.indexOf(d) < 0) d.remove();
    });
    var seenLine = $("chatter-seen");
    if (seenLine) {
      var last = items[items.length - 1];
      var mine = last && last.getAttribute("data-sender") === me();
      var names = seenLine.querySelectorAll(".chatter-seen-name:not([data-user='" + me() + "'])");
      seenLine.hidden = !(mine && names.length && seenLine.getAttribute("data-seq") === String(seqOf(last)));
    }
  }

  /* -- the room list ---------------------------------------------------------------------- */

  function roomsList() { return $("chatter-rooms"); }
  function activeRoomId() {
    var room = $("chatter-room");
    return room ? "chatter-room-" + room.getAttribute("data-room").replace(/-/g, "") : "";
  }

  // A room's unread badge: its sequence minus this user's read position, computed here.
  function badge(li) {
    var rooms = roomsList();
    var unread = Math.max(num(li, "data-seq") - num(li, "data-read-seq"), 0);
    if (li.id === activeRoomId() && document.visibilityState === "visible") unread = 0;
    var el = li.querySelector(".chatter-badge");
    if (el) {
      var count = el.querySelector(".chatter-badge-count");
      if (count) count.textContent = String(unread);
      var words = el.querySelector(".chatter-visually-hidden");
      if (words && rooms) {
        words.textContent = " " + rooms.getAttribute(unread === 1 ? "data-unread-one" : "data-unread-other");
      }
      el.hidden = unread === 0;
    }
    li.classList.toggle("has-unread", unread > 0);
    mentionBadge(li, unread);
  }

  // A room's "@" badge: its mentions of this user after their read position (counted by
  // the server for the page, then one more for each new message that names this user);
  // none once the room is read to its last message.
  function mentionBadge(li, unread) {
    if (num(li, "data-read-seq") >= num(li, "data-seq")) li.setAttribute("data-mention-count", "0");
    var count = unread > 0 ? num(li, "data-mention-count") : 0;
    var el = li.querySelector(".chatter-mention-badge");
    if (!el) return;
    var words = el.querySelector(".chatter-visually-hidden");
    var rooms = roomsList();
    if (words && rooms && count) {
      var text = rooms.getAttribute(count === 1 ? "data-mention-one" : "data-mention-other") || "";
      setText(words, " " + text.replace("{count}", String(count)));
    }
    el.hidden = count === 0;
  }

  function dashed(hex) {
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  // A room this page does not show yet: insert a place for it and fetch its entry.
  function fetchRoom(hex) {
    var rooms = roomsList();
    if (!rooms || $("chatter-room-" + hex) || !window.htmx) return;
    var url = (rooms.getAttribute("data-item-url") || "").replace("00000000-0000-0000-0000-000000000000", dashed(hex));
    if (!url) return;
    var li = document.createElement("li");
    li.id = "chatter-room-" + hex;
    li.className = "chatter-room-item";
    rooms.insertBefore(li, rooms.firstChild);
    htmx.ajax("GET", url, { target: li, swap: "outerHTML" });
    var empty = $("chatter-rooms-empty");
    if (empty) empty.hidden = true;
  }

  // A room this user is no longer a member of (removed, or left in another tab).
  function dropRoom(hex) {
    var li = $("chatter-room-" + hex);
    if (li) li.remove();
    var rooms = roomsList();
    var empty = $("chatter-rooms-empty");
    if (empty && rooms && !rooms.querySelector("li[id]")) empty.hidden = false;
  }

  // A room's new last message: keep the newest (by sequence), move the room to the top.
  function applyRoom(item) {
    var hex = item.getAttribute("data-room");
    var li = $("chatter-room-" + hex);
    if (!li) { fetchRoom(hex); return; }
    var seq = num(item, "data-seq");
    var change = num(item, "data-change");
    if (seq === num(li, "data-seq") && change > num(li, "data-change")) {
      // The previewed message changed (edited, deleted): its new words, nothing else.
      li.setAttribute("data-change", String(change));
      var shown = li.querySelector(".chatter-room-preview");
      if (shown) shown.textContent = previewPrefix(li, item) + item.textContent;
      return;
    }
    if (seq <= num(li, "data-seq")) return; // a late frame: the page has a newer preview
    li.setAttribute("data-seq", String(seq));
    li.setAttribute("data-change", String(change));
    if ((item.getAttribute("data-mentions") || "").indexOf(" " + me() + " ") >= 0) {
      li.setAttribute("data-mention-count", String(num(li, "data-mention-count") + 1));
    }
    li.setAttribute("data-last-sender", item.getAttribute("data-system") ? "" : item.getAttribute("data-sender") || "");
    if (item.getAttribute("data-sender") === me()) li.setAttribute("data-read-seq", String(seq));
    var title = item.getAttribute("data-title"); // a group renamed by this message
    var shownTitle = li.querySelector(".chatter-room-title");
    if (title && shownTitle) shownTitle.textContent = title;
    var preview = li.querySelector(".chatter-room-preview");
    if (preview) preview.textContent = previewPrefix(li, item) + item.textContent;
    var time = li.querySelector(".chatter-room-time");
    if (time) {
      time.setAttribute("datetime", item.getAttribute("data-time"));
      localTime(time);
    }
    badge(li);
    var parent = li.parentNode;
    if (parent && parent.firstElementChild !== li) parent.insertBefore(li, parent.firstElementChild);
  }

  // "You: " or "alice: " before a preview (a system line has none).
  function previewPrefix(li, item) {
    if (item.getAttribute("data-system")) return "";
    var rooms = roomsList();
    if (item.getAttribute("data-sender") === me()) return (rooms ? rooms.getAttribute("data-you") : "") + " ";
    if (li.getAttribute("data-group")) return item.getAttribute("data-name") + ": ";
    return "";
  }

  // This user's read position in a room moved (here or in another tab).
  function applyRead(hex, seq) {
    var li = $("chatter-room-" + hex);
    if (!li || seq <= num(li, "data-read-seq")) return;
    li.setAttribute("data-read-seq", String(seq));
    badge(li);
  }

  function tidyRooms() {
    var rooms = roomsList();
    if (!rooms) return;
    var seen = {};
    Array.prototype.forEach.call(rooms.querySelectorAll(":scope > li[id]"), function (li) {
      if (seen[li.id]) li.remove(); else seen[li.id] = true;
    });
    var active = activeRoomId();
    Array.prototype.forEach.call(rooms.querySelectorAll(":scope > li[id]"), function (li) {
      if (li.id === active) {
        li.classList.add("chatter-room-item--active");
        var link = li.querySelector("a");
        if (link) link.setAttribute("aria-current", "page");
      }
      if (li.hasAttribute("data-seq")) badge(li);
    });
    Array.prototype.forEach.call(rooms.querySelectorAll("time[datetime]"), localTime);
    var empty = $("chatter-rooms-empty");
    if (empty && rooms.querySelector("li[id]")) empty.hidden = true;
  }

  /* -- words: frames shared by a room carry none; the page has them in its language ---- */

  function fillWords() {
    var words = $("chatter-words");
    if (!words) return;
    Array.prototype.forEach.call(document.querySelectorAll("[data-say]"), function (el) {
      var text = words.getAttribute("data-" + el.getAttribute("data-say")) || "";
      if (el.hasAttribute("data-name")) text = text.replace("{name}", el.getAttribute("data-name"));
      setText(el, text);
      el.removeAttribute("data-say");
    });
  }

  /* -- the feed: data frames from the server ---------------------------------------------- */

  // What a resume says: the newest message without a hole before it, the room's change
  // number this page knows, and the oldest message it shows (older changes do not matter).
  function resumeFrame(after) {
    var l = list();
    var first = messages()[0];
    return {
      type: "resume",
      after: after === undefined ? normalise() : after,
      changes: l ? num(l, "data-last-change") : 0,
      oldest: first ? seqOf(first) : 0
    };
  }

  function resume() {
    if (socket && list()) send(resumeFrame());
  }

  function processFeed() {
    var feed = $("chatter-feed");
    if (!feed) return;
    var items = Array.prototype.slice.call(feed.children);
    feed.textContent = "";
    items.forEach(function (item) {
      var kind = item.getAttribute("data-kind");
      if (kind === "room") applyRoom(item);
      else if (kind === "read") {
        // Readers of a room's last message: this page cares only if its user is one of them.
        if ((item.getAttribute("data-users") || "").indexOf(" " + me() + " ") >= 0) {
          applyRead(item.getAttribute("data-room"), num(item, "data-seq"));
        }
      }
      else if (kind === "new-room") fetchRoom(item.getAttribute("data-room"));
      else if (kind === "gone") dropRoom(item.getAttribute("data-room"));
      else if (kind === "changes") {
        var l = list();
        if (l && num(item, "data-upto") > num(l, "data-last-change")) {
          l.setAttribute("data-last-change", item.getAttribute("data-upto"));
        }
      }
      else if (kind === "more") resume();
      else if (kind === "stale") {
        var status = $("chatter-status");
        if (status) status.setAttribute("data-state", "stale");
      } else if (kind === "retry") {
        var after = num(item, "data-after");
        if (item.getAttribute("data-frame") === "resume") setTimeout(resume, after);
        else if (item.getAttribute("data-frame") === "read" && list()) {
          list().setAttribute("data-read-seq", "0"); // not stored: report it again
          lastReadAt = Date.now() + after - READ_INTERVAL;
          markRead();
        }
      }
    });
  }

  /* -- reading ---------------------------------------------------------------------------- */

  // Report the newest message seen, when it moved, at most once a second.
  function markRead() {
    var l = list();
    if (!l || document.visibilityState !== "visible" || !atBottom()) return;
    var top = highest();
    if (top <= (parseInt(l.getAttribute("data-read-seq"), 10) || 0)) return;
    var wait = lastReadAt + READ_INTERVAL - Date.now();
    if (wait > 0) {
      if (!readTimer) readTimer = setTimeout(function () { readTimer = null; markRead(); }, wait);
      return;
    }
    if (!socket) return;
    lastReadAt = Date.now();
    l.setAttribute("data-read-seq", String(top));
    var room = $("chatter-room");
    if (room) applyRead(room.getAttribute("data-room").replace(/-/g, ""), top);
    send({ type: "read", seq: top });
  }

  /* -- status ----------------------------------------------------------------------------- */

  function status(state, code) {
    var el = $("chatter-status");
    if (!el) return;
    var key = code ? "data-text-" + code : "data-text-" + state;
    el.setAttribute("data-state", state);
    el.textContent = el.getAttribute(key) || el.getAttribute("data-text-" + state) || "";
  }

  /* -- message actions: menu, reply, react, edit, delete, jump to a quoted message --------- */

  function room() { return $("chatter-room"); }
  function word(name) { var w = $("chatter-words"); return w ? w.getAttribute("data-" + name) || "" : ""; }
  function article(el) { return el && el.closest ? el.closest("article.chatter-msg") : null; }
  function closeMenus() {
    document.querySelectorAll(".chatter-menu").forEach(function (m) {
      var opener = m.parentNode && m.parentNode.querySelector("[data-action='menu']");
      if (opener) opener.setAttribute("aria-expanded", "false");
      m.remove();
    });
  }

  // Whether this page's user may still edit a message of theirs (the server decides again).
  function editable(el) {
    if (el.classList.contains("is-deleted") || !el.querySelector(".chatter-msg-text")) return false;
    var r = room();
    var window_ = r ? r.getAttribute("data-edit-window") : "";
    if (!window_) return true;
    return Date.now() - new Date(el.getAttribute("data-time")) <= parseInt(window_, 10) * 1000;
  }

  function openMenu(opener) {
    var el = article(opener);
    var template = $("chatter-actions-template");
    if (!el || !template) return;
    closeMenus();
    var menu = template.content.firstElementChild.cloneNode(true);
    var mine = el.getAttribute("data-sender") === me();
    var moderator = room() && room().getAttribute("data-moderator") === "1";
    menu.querySelectorAll("[data-only]").forEach(function (item) {
      var only = item.getAttribute("data-only");
      // "own": the user's editable messages; "delete": theirs, or any for a moderator;
      // "others": someone else's (Report).
      var keep = only === "own" ? mine && editable(el) : only === "delete" ? mine || moderator : !mine;
      if (!keep) item.remove();
    });
    var page = menu.querySelector("[data-action='page']");
    if (page) page.href = opener.href;
    opener.setAttribute("aria-expanded", "true");
    el.appendChild(menu);
    var first = menu.querySelector("button, a, input");
    if (first) first.focus();
  }

  function replyingTo() { var r = $("chatter-reply-to"); return r ? r.value : ""; }

  // Answer message el (or stop answering: null): the hidden reply_to field and a quote.
  function replyTo(el) {
    var field = $("chatter-reply-to");
    var shown = $("chatter-replying");
    if (!field || !shown) return;
    field.value = el ? el.getAttribute("data-seq") : "";
    shown.hidden = !el;
    var who = shown.querySelector(".chatter-replying-who");
    var what = shown.querySelector(".chatter-replying-text");
    if (el) {
      var author = el.querySelector(".chatter-msg-author");
      var text = el.querySelector(".chatter-msg-text");
      if (who) who.textContent = author ? author.textContent : "";
      if (what) what.textContent = text ? text.textContent.slice(0, 100) : "";
      var box = $("chatter-text");
      if (box) box.focus();
    }
  }

  function react(el, emoji) {
    if (el && emoji) send({ type: "react", seq: seqOf(el), emoji: emoji });
  }

  // Edit in place: the form comes from the server (the message's text as written), the
  // save goes over the socket; the changed message replaces the whole article.
  function startEdit(el) {
    var r = room();
    if (!el || !r || el.querySelector(".chatter-edit-form")) return;
    var url = r.getAttribute("data-edit-url").replace("/0/", "/" + seqOf(el) + "/");
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response); })
      .then(function (html) {
        var text = el.querySelector(".chatter-msg-text");
        if (!text) return;
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var form = holder.firstElementChild;
        text.hidden = true;
        text.after(form);
        var box = form.querySelector("textarea");
        if (box) { box.focus(); box.setSelectionRange(box.value.length, box.value.length); }
      })
      .catch(function () { window.location.href = url; });
  }

  function stopEdit(form) {
    var el = article(form);
    if (!el) return;
    var text = el.querySelector(".chatter-msg-text");
    if (text) text.hidden = false;
    form.remove();
    var box = $("chatter-text");
    if (box) box.focus();
  }

  function saveEdit(form) {
    var el = article(form);
    var box = form.querySelector("textarea");
    if (!el || !box || !socket) return false;
    send({ type: "edit", seq: seqOf(el), text: box.value });
    return true;
  }

  function showBlocked(el) {
    if (!el) return;
    el.classList.add("is-shown");
    var button = el.querySelector(".chatter-blocked-show");
    if (button) button.remove();
  }

  // Report a message: the form comes from the server into a dialog and is posted from
  // there; the answer (thanks, or the form with what was wrong) replaces it. Where that
  // fails, the message's own page has the same form.
  function reportDialog() { return $("chatter-report-dialog"); }
  function showInDialog(html) {
    var dialog = reportDialog();
    dialog.innerHTML = html;
    dialog.querySelectorAll("[data-action='close-dialog']").forEach(function (b) { b.hidden = false; });
    if (!dialog.open) dialog.showModal();
    var first = dialog.querySelector("input, textarea, button");
    if (first) first.focus();
  }
  function openReport(el) {
    var r = room();
    if (!el || !r || !reportDialog()) return;
    var url = r.getAttribute("data-report-url").replace("/0/", "/" + seqOf(el) + "/");
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(showInDialog)
      .catch(function () { window.location.href = url; });
  }
  function sendReport(form) {
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "HX-Request": "true" },
      credentials: "same-origin",
    })
      .then(function (response) { return response.text(); })
      .then(showInDialog)
      .catch(function () { form.submit(); });
  }
  function closeReport() {
    var dialog = reportDialog();
    if (dialog && dialog.open) dialog.close();
  }

  // Show a quoted message: scroll to it if the page has it, else load the messages between
  // it and the oldest shown (keyset, bounded by the server), else open the page around it.
  function jumpTo(link) {
    var seq = link.getAttribute("data-seq");
    var target = $("chatter-msg-" + seq);
    if (target) { flash(target); return; }
    var first = messages()[0];
    var r = room();
    if (!first || !r) { window.location.href = link.href; return; }
    var url = r.getAttribute("data-history-url") + "?around=" + seq + "&before=" + seqOf(first);
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response); })
      .then(function (html) {
        var l = list();
        var older = $("chatter-older");
        if (older) older.remove();
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var nodes = Array.prototype.slice.call(holder.childNodes);
        var anchor = l.firstChild;
        nodes.forEach(function (node) { l.insertBefore(node, anchor); });
        htmx.process(l);
        normalise();
        var found = $("chatter-msg-" + seq);
        if (found) flash(found); else window.location.href = link.href;
      })
      .catch(function () { window.location.href = link.href; });
  }

  function flash(el) {
    el.scrollIntoView({ block: "center" });
    el.classList.add("is-target");
    setTimeout(function () { el.classList.remove("is-target"); }, 2000);
  }

  document.addEventListener("click", function (evt) {
    var t = evt.target.closest ? evt.target.closest("[data-action], .chatter-quote") : null;
    if (!t || !room()) { if (!(evt.target.closest && evt.target.closest(".chatter-menu"))) closeMenus(); return; }
    var action = t.getAttribute("data-action");
    var el = article(t);
    if (t.classList.contains("chatter-quote") && !action) { evt.preventDefault(); jumpTo(t); return; }
    if (action === "show-blocked") { evt.preventDefault(); showBlocked(el); return; }
    if (action === "report") { evt.preventDefault(); closeMenus(); openReport(el); return; }
    if (action === "close-dialog") { evt.preventDefault(); closeReport(); return; }
    if (action === "page" || !socket && action !== "menu" && action !== "cancel-edit") return; // plain links
    if (action === "menu") { evt.preventDefault(); openMenu(t); return; }
    if (action === "cancel-edit") { evt.preventDefault(); stopEdit(t.closest("form")); return; }
    if (action === "cancel-reply") { evt.preventDefault(); replyTo(null); return; }
    evt.preventDefault();
    closeMenus();
    if (action === "reply") replyTo(el);
    else if (action === "react") react(el, t.getAttribute("data-emoji"));
    else if (action === "edit") startEdit(el);
    else if (action === "delete" && window.confirm(word("confirm-delete"))) send({ type: "delete", seq: seqOf(el) });
  });

  // In the message list (one Tab stop): Up and Down move from message to message, Enter
  // (or the context-menu key) opens the focused message's menu.
  document.addEventListener("keydown", function (evt) {
    var l = list();
    if (!l || evt.altKey || evt.ctrlKey || evt.metaKey) return;
    var onMessage = evt.target.parentNode === l && evt.target.classList.contains("chatter-msg");
    if (evt.target !== l && !onMessage) return;
    var items = messages();
    if (!items.length) return;
    if (evt.key === "ArrowUp" || evt.key === "ArrowDown") {
      var at = items.indexOf(evt.target);
      var next = at < 0 ? items.length - 1 : at + (evt.key === "ArrowUp" ? -1 : 1);
      if (next < 0 || next >= items.length) return;
      evt.preventDefault();
      items[next].setAttribute("tabindex", "-1");
      items[next].focus();
    } else if (onMessage && (evt.key === "Enter" || evt.key === "ContextMenu")) {
      var opener = evt.target.querySelector("[data-action='menu']");
      if (opener) { evt.preventDefault(); openMenu(opener); }
    }
  });

  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form.classList && form.classList.contains("chatter-report-form") && form.closest("dialog")) {
      evt.preventDefault();
      sendReport(form);
    } else if (form.classList && form.classList.contains("chatter-edit-form") && saveEdit(form)) {
      evt.preventDefault();
      stopEdit(form);
    } else if (form.classList && form.classList.contains("chatter-menu-emoji-form")) {
      evt.preventDefault();
      var input = form.querySelector("input");
      react(article(form), input ? input.value.trim() : "");
      closeMenus();
    }
  });

  document.addEventListener("keydown", function (evt) {
    var form = evt.target.closest ? evt.target.closest(".chatter-edit-form") : null;
    if (form && evt.key === "Escape") { evt.preventDefault(); stopEdit(form); return; }
    if (form && evt.key === "Enter" && !evt.shiftKey && !evt.isComposing) {
      evt.preventDefault();
      form.requestSubmit();
      return;
    }
    var menu = evt.target.closest ? evt.target.closest(".chatter-menu") : null;
    if (!menu) return;
    var items = Array.prototype.slice.call(menu.querySelectorAll("button, a, input"));
    var at = items.indexOf(evt.target);
    if (evt.key === "Escape") {
      var opener = menu.parentNode.querySelector("[data-action='menu']");
      closeMenus();
      if (opener) opener.focus();
    } else if ((evt.key === "ArrowDown" || evt.key === "ArrowRight") && evt.target.tagName !== "INPUT") {
      evt.preventDefault();
      items[(at + 1) % items.length].focus();
    } else if ((evt.key === "ArrowUp" || evt.key === "ArrowLeft") && evt.target.tagName !== "INPUT") {
      evt.preventDefault();
      items[(at - 1 + items.length) % items.length].focus();
    }
  });

  /* -- htmx events ------------------------------------------------------------------------ */

  document.addEventListener("htmx:wsConnecting", function () {
    status(socket ? "reconnecting" : "connecting");
  });

  document.addEventListener("htmx:wsOpen", function (evt) {
    socket = evt.detail.socketWrapper;
    askedAfter = -1;
    status("connected");
    if (list()) {
      socket.sendImmediately(JSON.stringify(resumeFrame()));
      // Sends written into a socket that died before the server answered are lost to it
      // (the ws extension queues only what is sent while closed): send them again. The
      // client id makes a send the server did store come back as the stored message.
      Object.keys(pending).forEach(function (id) {
        socket.sendImmediately(JSON.stringify({ type: "send", text: pending[id], client_id: id }));
      });
      markRead();
    }
  });

  document.addEventListener("htmx:wsClose", function (evt) {
    var code = evt.detail.event && evt.detail.event.code;
    if ([1006, 1011, 1012, 1013].indexOf(code) >= 0) status("reconnecting");
    else status("closed", code >= 4000 ? code : "");
    // No longer a member (removed from the group), or the room is gone: nothing to send.
    if ((code === 4403 || code === 4404) && room()) {
      room().setAttribute("data-closed", String(code));
      var group = $("chatter-group");
      if (group) { group.open = false; group.hidden = true; }
      document.querySelectorAll("#chatter-composer textarea, #chatter-composer button").forEach(function (el) {
        el.disabled = true;
      });
    }
  });

  document.addEventListener("htmx:wsConfigSend", function (evt) {
    var params = evt.detail.parameters;
    var text = (params.text || "").trim();
    if (!text) { evt.preventDefault(); return; }
    var id = uuid4();
    params.client_id = id;
    params.type = "send";
    delete params.csrfmiddlewaretoken;
    evt.detail.headers = null;
    pending[id] = params.text;
    if (!params.reply_to) delete params.reply_to;
    var box = $("chatter-text");
    if (box) box.value = "";
    replyTo(null);
    wasAtBottom = true;
  });

  document.addEventListener("htmx:wsBeforeMessage", function () {
    wasAtBottom = wasAtBottom || atBottom();
    highestBefore = highest();
  });

  document.addEventListener("htmx:wsAfterMessage", function () {
    var before = highestBefore;
    processFeed();
    fillWords();
    var contiguous = normalise();
    tidyRooms();
    var error = $("chatter-composer-error");
    if (error) {
      var failed = error.getAttribute("data-client-id");
      if (failed && pending[failed] !== undefined) {
        var box = $("chatter-text");
        if (box && !box.value) box.value = pending[failed];
        delete pending[failed];
      }
      var ok = error.getAttribute("data-sent");
      if (ok) delete pending[ok];
    }
    var typing = $("chatter-typing");
    if (typing && typing.textContent.trim()) {
      clearTimeout(typingTimer);
      var seconds = parseInt(typing.getAttribute("data-timeout"), 10) || 5;
      typingTimer = setTimeout(function () { typing.textContent = ""; }, seconds * 1000);
    }
    var top = highest();
    if (top > before && typing) {
      var last = messages()[messages().length - 1];
      if (last && last.getAttribute("data-sender") === typing.getAttribute("data-user")) {
        typing.textContent = "";
      }
    }
    if (top > contiguous && contiguous !== askedAfter) {
      askedAfter = contiguous;
      send(resumeFrame(contiguous));
    }
    if (wasAtBottom) toBottom();
    else if (top > before) {
      var pill = $("chatter-new-pill");
      if (pill) pill.hidden = false;
    }
    wasAtBottom = false;
    markRead();
  });

  // Older history: keep the reader's place when messages are added above.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    if (target && target.id === "chatter-older") {
      var s = scroller();
      olderAnchor = s ? { height: s.scrollHeight, top: s.scrollTop } : null;
    }
  });

  document.addEventListener("htmx:afterSwap", function (evt) {
    var target = evt.detail.target;
    if (target && target.classList && target.classList.contains("chatter-room-item")) tidyRooms();
    if (!olderAnchor) return;
    var s = scroller();
    normalise();
    if (s) s.scrollTop = olderAnchor.top + (s.scrollHeight - olderAnchor.height);
    olderAnchor = null;
  });

  document.addEventListener("visibilitychange", function () {
    tidyRooms();
    markRead();
  });

  document.addEventListener("keydown", function (evt) {
    if (evt.target.id !== "chatter-text") return;
    if (evt.key === "Enter" && !evt.shiftKey && !evt.isComposing) {
      evt.preventDefault();
      evt.target.form.requestSubmit();
    } else if (evt.key === "ArrowUp" && !evt.target.value && !evt.isComposing) {
      var mine = messages().filter(function (el) {
        return el.getAttribute("data-sender") === me() && editable(el);
      });
      if (mine.length) { evt.preventDefault(); startEdit(mine[mine.length - 1]); }
    } else if (evt.key === "Escape" && replyingTo()) {
      evt.preventDefault();
      replyTo(null);
    }
  });

  document.addEventListener("input", function (evt) {
    if (evt.target.id !== "chatter-text" || !evt.target.value.trim()) return;
    var now = Date.now();
    if (now - lastTyping > 2000) {
      lastTyping = now;
      if (socket) send({ type: "typing" });
    }
  });

  document.addEventListener("click", function (evt) {
    if (evt.target.closest && evt.target.closest("#chatter-new-pill")) toBottom();
  });

  // Tell the server every third of the presence timeout that this room is still open.
  function keepActive() {
    var room = $("chatter-room");
    var seconds = room ? parseInt(room.getAttribute("data-presence-timeout"), 10) : 0;
    if (!seconds) return;
    setInterval(function () {
      if (socket && list()) send({ type: "ping" });
    }, (seconds * 1000) / 3);
  }

  function start() {
    keepActive();
    normalise();
    tidyRooms();
    // A page opened at a message (?around=N: a search result, a quote) stays there
    // (search.js shows it); others open at the newest message.
    if (/[?&]around=/.test(window.location.search)) wasAtBottom = false;
    else toBottom();
    var s = scroller();
    if (s) {
      s.addEventListener("scroll", function () {
        if (atBottom()) {
          var pill = $("chatter-new-pill");
          if (pill) pill.hidden = true;
          markRead();
        }
      });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

/* ---------------------------------------------------------------------------------------
 * The "scripts did not load" notice, #chatter-assets-missing (chatter/_assets.html).
 * The page is rendered with the notice visible; this block removes it once htmx and its
 * websocket extension (which defines htmx.createWebSocket) have run. If this file, htmx
 * or the extension did not load, the notice stays: no silent dead page. A block of its
 * own, independent of the code above.
 * ------------------------------------------------------------------------------------- */
(function () {
  "use strict";

  function scriptsLoaded() {
    var htmx = window.htmx;
    return !!htmx && typeof htmx.createWebSocket === "function";
  }

  function dismissNotice() {
    if (!scriptsLoaded()) return;
    var notices = document.querySelectorAll(".chatter-assets-missing");
    for (var i = 0; i < notices.length; i++) notices[i].remove();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", dismissNotice);
  else dismissNotice();
})();

/* ---------------------------------------------------------------------------------------
 * Accessibility: what screen readers hear. The message list, #chatter-messages, is a log
 * (role="log", aria-relevant="additions" in chatter/_conversation.html): new messages are
 * announced once, as they are added. Older pages loaded above the list while scrolling
 * back are not news: the list is aria-busy while one is swapped in, so they are not read
 * out. The composer has autofocus (opening a room puts the cursor there) and the room page
 * starts with a skip link to the list. A block of its own, independent of the code above.
 * ------------------------------------------------------------------------------------- */
(function () {
  "use strict";

  function list() { return document.getElementById("chatter-messages"); }

  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    var l = list();
    if (l && target && target.id === "chatter-older" && evt.detail.shouldSwap) {
      l.setAttribute("aria-busy", "true");
    }
  });

  function settled() {
    var l = list();
    if (l && l.hasAttribute("aria-busy")) l.removeAttribute("aria-busy");
  }

  document.addEventListener("htmx:afterSettle", settled);
  document.addEventListener("htmx:swapError", settled);
})();

/* ---------------------------------------------------------------------------------------
 * A group's panel (#chatter-group, chatter/_group_panel.html). The page renders it as it
 * is then; once a group change has come over the socket (its frame replaces the header's
 * member list, #chatter-members), the panel is stale, and the next time it is opened it is
 * fetched afresh (chatter:group answers htmx with the panel alone; aria-busy meanwhile),
 * so its member list and "Remove" buttons are as they are now. A block of its own,
 * independent of the code above.
 * ------------------------------------------------------------------------------------- */
(function () {
  "use strict";

  function panel() { return document.getElementById("chatter-group"); }

  document.addEventListener("htmx:oobBeforeSwap", function (evt) {
    var target = evt.detail && evt.detail.target;
    var p = panel();
    if (p && target && target.id === "chatter-members") p.setAttribute("data-stale", "");
  });

  document.addEventListener("toggle", function (evt) {
    var p = panel();
    if (evt.target !== p || !p.open || !p.hasAttribute("data-stale") || !window.htmx) return;
    var body = document.getElementById("chatter-group-body");
    var url = p.getAttribute("data-url");
    if (!body || !url) return;
    p.removeAttribute("data-stale");
    body.setAttribute("aria-busy", "true");
    var done = function () { body.removeAttribute("aria-busy"); };
    htmx.ajax("GET", url, { target: body, swap: "innerHTML" }).then(done, done);
  }, true);
})();

/* ---------------------------------------------------------------------------------------
 * The member pickers (chatter/_picker.html): the "New group" form's, and a group's "Add
 * people" form's. Without JavaScript each form has a text field of usernames; once htmx is
 * there, this block disables and hides it and shows the picker: a combobox whose input
 * asks chatter:user_search?picker=... for options (htmx, debounced in the template).
 * Up/Down move through the options (aria-activedescendant), Enter picks, Escape closes the
 * list, Backspace in the empty input removes the last person. Each person picked is a chip
 * with a remove button and a hidden input "usernames", which the form reads as it reads the
 * text field. A page may have several pickers: each is the element .chatter-picker, and
 * its parts have its id and a suffix (-input, -listbox, -chips, -status). Its words come
 * from its data-* attributes. A block of its own, independent of the code above.
 * ------------------------------------------------------------------------------------- */
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }
  function part(p, name) { return p ? $(p.id + "-" + name) : null; }
  function input(p) { return part(p, "input"); }
  function listbox(p) { return part(p, "listbox"); }
  function chips(p) { return part(p, "chips"); }
  // The picker an element belongs to.
  function pickerOf(el) { return el && el.closest ? el.closest(".chatter-picker") : null; }
  function options(p) {
    var l = listbox(p);
    return l ? Array.prototype.slice.call(l.querySelectorAll("[role='option']")) : [];
  }
  function isOpen(p) { var l = listbox(p); return !!l && !l.hidden; }
  function words(p, name, person) {
    return ((p && p.getAttribute("data-" + name)) || "").replace("{name}", person);
  }
  function say(p, text) {
    var status = part(p, "status");
    if (status) status.textContent = text;
  }

  // The usernames picked so far, in order.
  function chosen(p) {
    var c = chips(p);
    if (!c) return [];
    return Array.prototype.map.call(c.querySelectorAll("input[name='usernames']"), function (i) {
      return i.value;
    });
  }

  function activate(p, option) {
    var box = input(p);
    options(p).forEach(function (o) {
      o.classList.toggle("is-active", o === option);
      o.setAttribute("aria-selected", o === option ? "true" : "false");
    });
    if (!box) return;
    if (option) {
      box.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      box.removeAttribute("aria-activedescendant");
    }
  }

  function open(p) {
    var l = listbox(p);
    var box = input(p);
    if (!l || !box || !options(p).length) { close(p); return; }
    l.hidden = false;
    box.setAttribute("aria-expanded", "true");
  }

  function close(p) {
    var l = listbox(p);
    var box = input(p);
    activate(p, null);
    if (l) l.hidden = true;
    if (box) box.setAttribute("aria-expanded", "false");
  }

  function move(p, step) {
    var list = options(p);
    if (!list.length) return;
    if (!isOpen(p)) open(p);
    var at = list.indexOf(listbox(p).querySelector(".is-active"));
    var next = at < 0 ? (step > 0 ? 0 : list.length - 1) : (at + step + list.length) % list.length;
    activate(p, list[next]);
  }

  // A chip for a person: avatar (a copy of the option's), name, remove button, hidden input.
  function addChip(p, username, name, avatar) {
    var c = chips(p);
    if (!c || !username || chosen(p).indexOf(username) >= 0) return false;
    var chip = document.createElement("li");
    chip.className = "chatter-chip";
    if (avatar) chip.appendChild(avatar.cloneNode(true));
    var label = document.createElement("span");
    label.className = "chatter-chip-name";
    label.textContent = name || username;
    chip.appendChild(label);
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "chatter-chip-remove";
    remove.setAttribute("aria-label", words(p, "remove", name || username));
    var cross = document.createElement("span");
    cross.setAttribute("aria-hidden", "true");
    cross.textContent = "\u00d7";
    remove.appendChild(cross);
    chip.appendChild(remove);
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = "usernames";
    hidden.value = username;
    chip.appendChild(hidden);
    c.appendChild(chip);
    return true;
  }

  function removeChip(p, chip) {
    if (!chip) return;
    var label = chip.querySelector(".chatter-chip-name");
    chip.remove();
    say(p, words(p, "removed", label ? label.textContent : ""));
    var box = input(p);
    if (box) box.focus();
  }

  function pick(p, option) {
    var name = option.getAttribute("data-name");
    if (addChip(p, option.getAttribute("data-username"), name, option.querySelector(".chatter-avatar"))) {
      say(p, words(p, "added", name));
    }
    var box = input(p);
    var l = listbox(p);
    close(p);
    if (l) l.textContent = "";
    if (box) { box.value = ""; box.focus(); }
  }

  // Replace the text field by the picker; people it already names (a form shown again
  // with an error) become chips.
  function startOne(p) {
    if (p.hasAttribute("data-ready") || !window.htmx) return;
    var field = $(p.getAttribute("data-field") || "");
    if (field) {
      (field.value || "").split(/[\s,;]+/).forEach(function (username) { addChip(p, username, username, null); });
      field.disabled = true;
      var group = field.closest(".chatter-field");
      if (group) group.hidden = true;
    }
    p.hidden = false;
    p.setAttribute("data-ready", "");
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll(".chatter-picker[id]"), startOne);
  }

  document.addEventListener("keydown", function (evt) {
    var box = evt.target;
    var p = pickerOf(box);
    if (!p || box !== input(p) || evt.isComposing) return;
    if (evt.key === "ArrowDown" || evt.key === "ArrowUp") {
      evt.preventDefault();
      move(p, evt.key === "ArrowDown" ? 1 : -1);
    } else if (evt.key === "Enter") {
      var active = isOpen(p) && listbox(p).querySelector(".is-active");
      if (active) { evt.preventDefault(); pick(p, active); }
      // A name typed but not picked would be lost: Enter submits only from an empty input.
      else if (box.value.trim()) evt.preventDefault();
    } else if (evt.key === "Escape") {
      if (isOpen(p)) { evt.preventDefault(); close(p); }
    } else if (evt.key === "Backspace" && !box.value) {
      var all = chips(p) ? chips(p).querySelectorAll(".chatter-chip") : [];
      if (all.length) { evt.preventDefault(); removeChip(p, all[all.length - 1]); }
    }
  });

  // New options: drop the people already picked, open the list, nothing active yet.
  document.addEventListener("htmx:afterSwap", function (evt) {
    var p = pickerOf(evt.detail.target);
    if (!p || evt.detail.target !== listbox(p)) return;
    var picked = chosen(p);
    options(p).forEach(function (o) {
      if (picked.indexOf(o.getAttribute("data-username")) >= 0) o.remove();
    });
    var box = input(p);
    if (box && document.activeElement === box && box.value.trim()) open(p);
    else close(p);
    activate(p, null);
  });

  // A picker that arrives later (a group's panel, fetched when opened) starts too.
  document.addEventListener("htmx:load", start);

  // Clicking an option must not take the focus from the input (that would close the list).
  document.addEventListener("mousedown", function (evt) {
    if (evt.target.closest && evt.target.closest(".chatter-picker-listbox [role='option']")) {
      evt.preventDefault();
    }
  });

  document.addEventListener("click", function (evt) {
    if (!evt.target.closest) return;
    var p = pickerOf(evt.target);
    if (!p) return;
    var option = evt.target.closest(".chatter-picker-listbox [role='option']");
    if (option) { pick(p, option); return; }
    var remove = evt.target.closest(".chatter-chip-remove");
    if (remove) { removeChip(p, remove.closest(".chatter-chip")); return; }
    if (evt.target.closest(".chatter-picker-box")) {
      var box = input(p);
      if (box) box.focus();
    }
  });

  document.addEventListener("focusout", function (evt) {
    var p = pickerOf(evt.target);
    if (!p || evt.target !== input(p)) return;
    if (!evt.relatedTarget || !p.contains(evt.relatedTarget)) close(p);
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

/* ---------------------------------------------------------------------------------------
 * Mentions in the composer (chatter/_mention_box.html). "@" and the start of a name just
 * before the caret in #chatter-text ask chatter:mention_search for the room's members
 * (debounced; an answer to an older question is dropped) and show them under the composer
 * as a listbox. Up/Down move through the options (aria-activedescendant on the textarea,
 * which keeps the focus; a textarea takes no combobox role, so it has aria-autocomplete and
 * aria-controls), Enter or Tab picks, Escape closes until the next "@"; a click picks too.
 * Picking puts "@username " in the place of "@start". The server turns "@username" into a
 * mention when it stores the message, so the text works the same without JavaScript.
 * While the list is open its keys are this block's alone: its keydown listener runs first
 * (capture phase) and stops the event, so the composer's own keys (Enter sends, ArrowUp
 * edits the last message, Escape cancels a reply) do not fire. A block of its own,
 * independent of the code above.
 * ------------------------------------------------------------------------------------- */
(function () {
  "use strict";

  var DELAY = 150;
  var timer = null;
  var controller = null;
  var asked = null; // the query whose options are shown or on their way
  var start = -1; // where the "@" being completed is in the textarea
  var dismissed = -1; // the "@" whose list Escape closed

  function $(id) { return document.getElementById(id); }
  function box() { return $("chatter-text"); }
  function listbox() { return $("chatter-mention-listbox"); }
  function options() {
    var l = listbox();
    return l ? Array.prototype.slice.call(l.querySelectorAll("[role='option']")) : [];
  }
  function isOpen() { var l = listbox(); return !!l && !l.hidden; }
  function say(text) {
    var status = $("chatter-mention-status");
    if (status && status.textContent !== text) status.textContent = text;
  }

  // "@" and what follows it up to the caret, if that is the start of a mention: the "@"
  // not right after a letter or another name character (so "a@b.c" is an address).
  var BEFORE = /(^|[^\p{L}\p{N}_.+@-])@([\p{L}\p{N}_.+@-]{0,50})$/u;
  function word() {
    var b = box();
    if (!b || b.selectionStart !== b.selectionEnd) return null;
    var found = BEFORE.exec(b.value.slice(0, b.selectionStart));
    if (!found) return null;
    return { start: b.selectionStart - found[2].length - 1, query: found[2] };
  }

  function activate(option) {
    var b = box();
    options().forEach(function (o) {
      o.classList.toggle("is-active", o === option);
      o.setAttribute("aria-selected", o === option ? "true" : "false");
    });
    if (!b) return;
    if (option) {
      b.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      b.removeAttribute("aria-activedescendant");
    }
  }

  function close() {
    clearTimeout(timer);
    if (controller) { controller.abort(); controller = null; }
    asked = null;
    start = -1;
    activate(null);
    var l = listbox();
    if (l) { l.hidden = true; l.textContent = ""; }
  }

  function move(step) {
    var list = options();
    if (!list.length) return;
    var at = list.indexOf(listbox().querySelector(".is-active"));
    activate(list[at < 0 ? (step > 0 ? 0 : list.length - 1) : (at + step + list.length) % list.length]);
  }

  // New options: the first one active, so Enter picks it at once.
  function show(html) {
    var l = listbox();
    var b = box();
    if (!l || !b) return;
    var holder = document.createElement("template");
    holder.innerHTML = html;
    var wrapper = holder.content.firstElementChild;
    activate(null);
    l.textContent = "";
    if (wrapper) {
      Array.prototype.slice.call(wrapper.children).forEach(function (option) { l.appendChild(option); });
    }
    say(wrapper ? wrapper.getAttribute("data-status") || "" : "");
    var list = options();
    l.hidden = !list.length || document.activeElement !== b;
    if (!l.hidden) activate(list[0]);
  }

  function ask(query) {
    var l = listbox();
    if (!l || !window.fetch) return;
    if (controller) controller.abort();
    controller = window.AbortController ? new AbortController() : null;
    var url = l.getAttribute("data-url") + "?q=" + encodeURIComponent(query);
    fetch(url, {
      headers: { "HX-Request": "true" },
      credentials: "same-origin",
      signal: controller ? controller.signal : undefined
    })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response); })
      .then(function (html) { if (asked === query) show(html); })
      .catch(function () { /* aborted, or the server said no: no options */ });
  }

  // After typing or moving the caret: follow the "@" word before it, or close.
  function update() {
    var w = word();
    if (!w) {
      dismissed = -1;
      if (start >= 0 || isOpen()) close();
      return;
    }
    if (w.start === dismissed) return;
    if (w.start === start && w.query === asked) return;
    start = w.start;
    asked = w.query;
    clearTimeout(timer);
    timer = setTimeout(function () { ask(w.query); }, DELAY);
  }

  function pick(option) {
    var b = box();
    var username = option.getAttribute("data-username");
    if (!b || start < 0 || !username) { close(); return; }
    b.setRangeText("@" + username + " ", start, b.selectionStart, "end");
    close();
    b.focus();
    b.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("keydown", function (evt) {
    var b = box();
    if (!b || evt.target !== b || !isOpen() || evt.isComposing) return;
    if (evt.key === "ArrowDown" || evt.key === "ArrowUp") {
      move(evt.key === "ArrowDown" ? 1 : -1);
    } else if ((evt.key === "Enter" || evt.key === "Tab") && !evt.shiftKey) {
      var active = listbox().querySelector(".is-active") || options()[0];
      if (active) pick(active); else close();
    } else if (evt.key === "Escape") {
      dismissed = start;
      close();
    } else {
      return;
    }
    evt.preventDefault();
    evt.stopImmediatePropagation();
  }, true);

  document.addEventListener("input", function (evt) { if (evt.target === box()) update(); });
  document.addEventListener("keyup", function (evt) {
    if (evt.target === box() && /^(ArrowLeft|ArrowRight|Home|End)$/.test(evt.key)) update();
  });
  document.addEventListener("click", function (evt) {
    if (!evt.target.closest) return;
    var option = evt.target.closest("#chatter-mention-listbox [role='option']");
    if (option) pick(option);
    else if (evt.target === box()) update();
  });
  // Clicking an option must not take the focus from the textarea.
  document.addEventListener("mousedown", function (evt) {
    if (evt.target.closest && evt.target.closest("#chatter-mention-listbox")) evt.preventDefault();
  });
  document.addEventListener("focusout", function (evt) {
    var l = listbox();
    if (evt.target === box() && !(evt.relatedTarget && l && l.contains(evt.relatedTarget))) close();
  });
  // A send empties the composer without an input event.
  document.addEventListener("submit", function (evt) {
    if (evt.target && evt.target.id === "chatter-composer") close();
  }, true);
})();
