/* Web Push on this device: the button of chatter/_push_preferences.html.
   It asks for permission on a click only, subscribes with the site's VAPID key and posts
   the subscription (with the CSRF token) to chatter:push_subscribe; clicked again, it
   unsubscribes. No inline script: the template carries the URLs and words as data-*. */
(function () {
  "use strict";

  function b64urlToBytes(text) {
    var padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  function post(box, url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": box.dataset.csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) {
          throw new Error(answer.error || response.statusText);
        }
        return answer;
      });
    });
  }

  function show(box, state, error) {
    var button = box.querySelector("[data-chatter-push-button]");
    var status = box.querySelector("[data-chatter-push-status]");
    box.dataset.state = state;
    status.textContent = error || box.dataset["text" + state.charAt(0).toUpperCase() + state.slice(1)] || "";
    button.hidden = state === "unsupported" || state === "denied";
    button.disabled = state === "busy";
    button.textContent = state === "on" ? box.dataset.disable : box.dataset.enable;
    button.setAttribute("aria-pressed", state === "on" ? "true" : "false");
  }

  function registration(box) {
    return navigator.serviceWorker.register(box.dataset.worker);
  }

  // The registration once its worker is active (subscribing needs one). Not
  // navigator.serviceWorker.ready: that waits for a worker whose scope covers this page,
  // and the page with the button may be outside the chat's scope.
  function activeRegistration(box) {
    return registration(box).then(function (reg) {
      var worker = reg.installing || reg.waiting;
      if (reg.active || !worker) {
        return reg;
      }
      return new Promise(function (resolve, reject) {
        worker.addEventListener("statechange", function () {
          if (worker.state === "activated") {
            resolve(reg);
          } else if (worker.state === "redundant") {
            reject(new Error("The service worker could not be installed."));
          }
        });
      });
    });
  }

  function refresh(box) {
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !window.Notification) {
      show(box, "unsupported");
      return;
    }
    if (Notification.permission === "denied") {
      show(box, "denied");
      return;
    }
    registration(box)
      .then(function (reg) { return reg.pushManager.getSubscription(); })
      .then(function (sub) { show(box, sub ? "on" : "off"); })
      .catch(function (error) { show(box, "off", String(error.message || error)); });
  }

  function enable(box) {
    return Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") {
        show(box, permission === "denied" ? "denied" : "off");
        return null;
      }
      return activeRegistration(box)
        .then(function (reg) {
          return reg.pushManager.subscribe({
            userVisibleOnly: true,
            applicationServerKey: b64urlToBytes(box.dataset.key)
          });
        })
        .then(function (sub) { return post(box, box.dataset.subscribe, sub.toJSON()); })
        .then(function () { show(box, "on"); });
    });
  }

  function disable(box) {
    return registration(box)
      .then(function (reg) { return reg.pushManager.getSubscription(); })
      .then(function (sub) {
        if (!sub) {
          return null;
        }
        return post(box, box.dataset.unsubscribe, { endpoint: sub.endpoint }).then(function () {
          return sub.unsubscribe();
        });
      })
      .then(function () { show(box, "off"); });
  }

  function setUp(root) {
    var boxes = root.querySelectorAll ? root.querySelectorAll("[data-chatter-push]") : [];
    boxes.forEach(function (box) {
      if (box.dataset.ready) {
        return;
      }
      box.dataset.ready = "1";
      box.querySelector("[data-chatter-push-button]").addEventListener("click", function () {
        var wasOn = box.dataset.state === "on";
        show(box, "busy");
        (wasOn ? disable(box) : enable(box)).catch(function (error) {
          show(box, wasOn ? "on" : "off", String(error.message || error));
        });
      });
      refresh(box);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  document.addEventListener("htmx:load", function (event) { setUp(event.target); });
})();
