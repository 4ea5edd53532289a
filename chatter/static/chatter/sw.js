/* Chatter's service worker: shows Web Push notifications and opens the chat on a click.
   Served by the view chatter:service_worker under the chat's URL prefix, so its scope is
   the chat's pages. A push carries JSON: {title, body, sender, url, tag}. */
"use strict";

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

function readPush(event) {
  if (!event.data) {
    return null;
  }
  try {
    var data = event.data.json();
    return data && typeof data === "object" ? data : null;
  } catch (error) {
    return null;
  }
}

self.addEventListener("push", function (event) {
  var data = readPush(event);
  if (!data) {
    return;
  }
  var url = new URL(String(data.url || "./"), self.registration.scope).href;
  event.waitUntil(
    self.registration.showNotification(String(data.title || ""), {
      body: String(data.body || ""),
      tag: String(data.tag || ""),
      renotify: Boolean(data.tag),
      data: { url: url }
    })
  );
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || self.registration.scope;
  var target = new URL(url, self.registration.scope);
  if (target.origin !== self.location.origin) {
    return;
  }
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
      for (var i = 0; i < windows.length; i++) {
        var client = windows[i];
        if (new URL(client.url).pathname === target.pathname && "focus" in client) {
          return client.focus();
        }
      }
      for (var j = 0; j < windows.length; j++) {
        if ("navigate" in windows[j] && "focus" in windows[j]) {
          return windows[j].navigate(target.href).then(function (client) {
            return client ? client.focus() : self.clients.openWindow(target.href);
          });
        }
      }
      return self.clients.openWindow(target.href);
    })
  );
});
