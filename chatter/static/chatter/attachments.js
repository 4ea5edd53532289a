/* Chatter: files in the composer (chatter.attachments).
 *
 * Files come from the attach button (a real <input type=file multiple>), from a drop onto
 * the conversation, or from pasting an image into the message box; they are shown as
 * removable chips. A message with files does not go over the socket: it is posted as
 * multipart to the room's upload URL with an XMLHttpRequest (upload progress, Cancel
 * aborts it), and the stored message then comes back over the socket like any other.
 * A refusal replaces the error line under the composer with the server's one.
 * Without files the composer sends over the socket as before (chatter.js).
 */
(function () {
  "use strict";

  var chosen = [];
  var xhr = null;

  function $(id) { return document.getElementById(id); }
  function panel() { return $("chatter-attach"); }
  function word(name) { var p = panel(); return p ? p.getAttribute("data-" + name) || "" : ""; }

  function size(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function showChips() {
    var list = $("chatter-attach-chips");
    var template = $("chatter-attach-chip");
    if (!list || !template) return;
    list.textContent = "";
    chosen.forEach(function (file, index) {
      var chip = template.content.firstElementChild.cloneNode(true);
      chip.querySelector(".chatter-attach-chip-name").textContent = file.name || "file";
      chip.querySelector(".chatter-attach-chip-size").textContent = size(file.size);
      var remove = chip.querySelector(".chatter-attach-remove");
      remove.setAttribute("data-index", String(index));
      remove.setAttribute("aria-label", remove.getAttribute("aria-label") + ": " + (file.name || "file"));
      list.appendChild(chip);
    });
    list.hidden = chosen.length === 0;
  }

  function add(files) {
    Array.prototype.forEach.call(files || [], function (file) { chosen.push(file); });
    showChips();
  }

  function clear() {
    chosen = [];
    showChips();
  }

  // Show the server's line under the composer (or ``fallback`` when the answer has none,
  // e.g. a login page after the session ended); true when it says the message was stored.
  function setError(html, fallback) {
    var error = $("chatter-composer-error");
    var found = null;
    if (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      found = doc.getElementById("chatter-composer-error");
    }
    if (!error) return false;
    if (found) {
      found.removeAttribute("hx-swap-oob");
      error.replaceWith(document.importNode(found, true));
      return found.hasAttribute("data-sent");
    }
    error.textContent = fallback || "";
    return false;
  }

  function busy(on) {
    var box = $("chatter-upload");
    if (box) box.hidden = !on;
    var bar = $("chatter-upload-progress");
    if (bar) bar.value = 0;
    document.querySelectorAll(".chatter-attach-remove").forEach(function (b) { b.disabled = on; });
  }

  // A fresh id per message (crypto.randomUUID needs HTTPS; getRandomValues does not).
  function newId() {
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function upload(form, text) {
    if (xhr) return;
    var data = new FormData();
    var token = form.querySelector("[name=csrfmiddlewaretoken]");
    if (token) data.append("csrfmiddlewaretoken", token.value);
    data.append("text", text || "");
    data.append("client_id", newId());
    var reply = $("chatter-reply-to");
    if (reply && reply.value) data.append("reply_to", reply.value);
    chosen.forEach(function (file) { data.append("files", file, file.name || "file"); });
    xhr = new XMLHttpRequest();
    xhr.open("POST", panel().getAttribute("data-upload-url"));
    xhr.setRequestHeader("HX-Request", "true");
    if (token) xhr.setRequestHeader("X-CSRFToken", token.value);
    xhr.upload.addEventListener("progress", function (evt) {
      var bar = $("chatter-upload-progress");
      if (bar && evt.lengthComputable) bar.value = Math.round((evt.loaded / evt.total) * 100);
    });
    xhr.addEventListener("load", function () {
      var request = xhr;
      xhr = null;
      busy(false);
      var sent = setError(request.responseText, word("failed"));
      if (request.status === 200 && sent) {
        clear();
        var box = $("chatter-text");
        if (box) box.value = "";
        if (reply) reply.value = "";
        var replying = $("chatter-replying");
        if (replying) replying.hidden = true;
      }
    });
    xhr.addEventListener("error", function () { xhr = null; busy(false); setError("", word("failed")); });
    xhr.addEventListener("abort", function () { xhr = null; busy(false); setError("", word("cancelled")); });
    busy(true);
    xhr.send(data);
  }

  // Before chatter.js (capture, on window): a send with files goes over HTTP instead.
  window.addEventListener("htmx:wsConfigSend", function (evt) {
    var params = evt.detail && evt.detail.parameters;
    if (params) delete params.files;
    if (!chosen.length || !panel()) return;
    evt.preventDefault();
    evt.stopPropagation();
    upload($("chatter-composer"), params ? params.text : "");
  }, true);

  document.addEventListener("change", function (evt) {
    if (evt.target && evt.target.id === "chatter-files") {
      add(evt.target.files);
      evt.target.value = "";
    }
  });

  document.addEventListener("click", function (evt) {
    var remove = evt.target.closest ? evt.target.closest(".chatter-attach-remove") : null;
    if (remove) {
      chosen.splice(parseInt(remove.getAttribute("data-index"), 10), 1);
      showChips();
      var input = $("chatter-files");
      if (input) input.focus();
      return;
    }
    if (evt.target.id === "chatter-upload-cancel" && xhr) xhr.abort();
  });

  function hasFiles(evt) {
    var types = evt.dataTransfer ? evt.dataTransfer.types : null;
    return !!types && Array.prototype.indexOf.call(types, "Files") >= 0;
  }
  function dropZone(evt) {
    var zone = evt.target.closest ? evt.target.closest("#chatter-room") : null;
    return zone && panel() ? zone : null;
  }
  function dropping(zone, on) {
    if (!zone) return;
    zone.classList.toggle("is-dropping", on);
    var hint = $("chatter-drop-hint");
    if (hint) hint.hidden = !on;
  }

  ["dragenter", "dragover"].forEach(function (name) {
    document.addEventListener(name, function (evt) {
      if (!panel() || !hasFiles(evt)) return;
      // Files dropped beside the conversation are ignored, not opened by the browser
      // (which would leave the chat).
      evt.preventDefault();
      var zone = dropZone(evt);
      evt.dataTransfer.dropEffect = zone ? "copy" : "none";
      dropping(zone, true);
    });
  });
  document.addEventListener("dragleave", function (evt) {
    var zone = dropZone(evt);
    if (zone && !zone.contains(evt.relatedTarget)) dropping(zone, false);
  });
  document.addEventListener("drop", function (evt) {
    if (!panel() || !hasFiles(evt)) return;
    evt.preventDefault();
    var zone = dropZone(evt);
    if (!zone) return;
    dropping(zone, false);
    add(evt.dataTransfer.files);
    var box = $("chatter-text");
    if (box) box.focus();
  });

  document.addEventListener("paste", function (evt) {
    if (!evt.target || evt.target.id !== "chatter-text" || !evt.clipboardData) return;
    var files = [];
    Array.prototype.forEach.call(evt.clipboardData.items || [], function (item) {
      if (item.kind === "file") {
        var file = item.getAsFile();
        if (file) files.push(file);
      }
    });
    if (files.length) {
      evt.preventDefault();
      add(files);
    }
  });
})();
