/* The door page kept for a reload with no connection: network first, the last copy otherwise.
   Only the door pages and the portal's static files; nothing else is cached. */
var CACHE = "reestr-door-v1";
self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (ev) { ev.waitUntil(self.clients.claim()); });
self.addEventListener("fetch", function (ev) {
  var url = new URL(ev.request.url);
  var keep = ev.request.method === "GET" && url.origin === self.location.origin &&
    (/^\/portal\/events\/\d+\/door$/.test(url.pathname) || url.pathname.indexOf("/portal/static/") === 0);
  if (!keep) return;
  ev.respondWith(fetch(ev.request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(ev.request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(ev.request, {ignoreSearch: url.pathname.indexOf("/door") > 0});
  }));
});
