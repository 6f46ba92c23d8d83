/* Keeps a copy of the map for use with no signal: registers the service worker the page
 * names (<meta name="ocop-service-worker">, written by web/maps.py with the app's own URL).
 * The static build and /embed do not load this file; pages without the meta register nothing.
 * A file, not inline code: the CSP runs no inline script. */
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) { return; }
  // After the page has loaded (the meta comes after this script in <head>): copying the
  // map's files must not slow its first drawing.
  window.addEventListener("load", function () {
    var meta = document.querySelector('meta[name="ocop-service-worker"]');
    if (!meta) { return; }
    var registering;
    try {
      registering = navigator.serviceWorker.register(meta.content);
    } catch (err) {
      // A frame sandboxed without allow-same-origin may not even read serviceWorker: the
      // map works the same, with no offline copy.
      return;
    }
    registering.then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      // The tiles of the first visit loaded before the worker took over, past it: it keeps
      // them when told their URLs (it ignores any that are not tiles, or kept already).
      var urls = performance.getEntriesByType("resource").map(function (e) { return e.name; });
      reg.active.postMessage({keep: urls});
    }).catch(function (err) {
      // The map works the same online; only the offline copy is missing.
      console.warn("offline copy not installed:", err);
    });
  });
})();
