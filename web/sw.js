/* The map's service worker: the map opens, draws and searches with no signal after one visit.
 *
 * Served at /sw.js by web/offline.py after a line that sets self.OCOP (cache name, URLs to
 * copy, map page paths, tile server).  A new data version, day or static file changes that
 * line, so the browser installs a new worker, which copies its version's files and, once
 * active, deletes older copies.  Map tiles are kept apart (a bounded cache kept across
 * versions): tiles seen stay, others are simply missing offline.
 */
"use strict";

const C = self.OCOP;
const TILES = "ocop-tiles";
const TILE_RE = C.tiles ? new RegExp(C.tiles) : null;
const MATCH = {ignoreVary: true};  // the copy answers whatever headers the page sends

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(C.cache);
    // "reload": the server's current bytes, not an older copy from the HTTP cache.
    await cache.addAll(C.precache.map((url) => new Request(url, {cache: "reload"})));
    // The copy is complete: take over now rather than when every tab has closed.
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("ocop-") && name !== C.cache && name !== TILES) {
        await caches.delete(name);
      }
    }
    if (self.registration.navigationPreload) {
      await self.registration.navigationPreload.enable();  // pages load while we start
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") { return; }
  const url = new URL(req.url);
  if (TILE_RE && TILE_RE.test(url.origin)) {
    event.respondWith(tile(event, req));
  } else if (url.origin !== self.location.origin) {
    return;  // nothing else comes from elsewhere (CSP); leave it to the browser
  } else if (req.mode === "navigate") {
    event.respondWith(page(event, url));
  } else if (C.cacheFirst.some((prefix) => url.pathname.startsWith(prefix))) {
    // Versioned scripts and popups, static and vendor files: same URL, same bytes.
    event.respondWith(copied(req).then((hit) => hit || fetch(req)));
  } else {
    // Downloads, the manifest, anything else of ours: fresh when online, the copy when not.
    event.respondWith(fetch(req).catch(async (err) => (await copied(req)) || Promise.reject(err)));
  }
});

/* This version's copy of a request, if any.  "x?" is "x" here: the map's download links end
 * in "?" when nothing is filtered. */
async function copied(req) {
  const cache = await caches.open(C.cache);
  const hit = await cache.match(req, MATCH);
  const url = new URL(req.url);
  return hit || (url.search === "" ? cache.match(url.origin + url.pathname, MATCH) : undefined);
}

/* Pages: the network first (each answer has its own CSP nonce, and the server may have a
 * newer version); offline, the copy of the same URL, else of the map page in the language
 * asked for, whatever else the query says (the map reads view, filters and selection from
 * the URL itself).  A copied page keeps the CSP header that matches its nonce. */
async function page(event, url) {
  try {
    return (await event.preloadResponse) || await fetch(event.request);
  } catch (err) {
    const hit = await copied(event.request);
    const langs = C.pages[url.pathname];
    if (hit || !langs) { return hit || Promise.reject(err); }
    const cache = await caches.open(C.cache);
    return (await cache.match(langs[language(url)], MATCH)) || Promise.reject(err);
  }
}

/* The page's language as the server picks it: ?lang=, else the browser's languages. */
function language(url) {
  const asked = [url.searchParams.get("lang"), ...(self.navigator.languages || [])];
  for (const tag of asked) {
    const lang = (tag || "").toLowerCase().split("-")[0];
    if (C.langs.includes(lang)) { return lang; }
  }
  return C.langs[0];
}

/* Tiles: the copy first, else the network, keeping the newest `tileLimit` tiles. */
async function tile(event, req) {
  const cache = await caches.open(TILES);
  const hit = await cache.match(req.url);
  if (hit) { return hit; }
  let resp;
  try {
    // CORS, so the copy is readable and counted at its size (an opaque response counts as
    // megabytes against the storage quota); a tile server without CORS is shown, not kept.
    resp = await fetch(req.url, {mode: "cors", credentials: "omit"});
  } catch (err) {
    return fetch(req);
  }
  if (resp.ok) {
    event.waitUntil(cache.put(req.url, resp.clone()).then(() => trim(cache)));
  }
  return resp;
}

/* The page's tiles from before the worker took over (static/pwa.js). */
self.addEventListener("message", (event) => {
  const urls = Array.isArray(event.data && event.data.keep) ? event.data.keep : [];
  const tiles = urls.filter((u) => {
    try { return TILE_RE && TILE_RE.test(new URL(u).origin); } catch (err) { return false; }
  });
  event.waitUntil(keep(tiles.slice(-C.tileLimit)));
});

async function keep(urls) {
  const cache = await caches.open(TILES);
  await Promise.all(urls.map(async (url) => {
    if (await cache.match(url)) { return; }
    try {
      const resp = await fetch(url, {mode: "cors", credentials: "omit"});
      if (resp.ok) { await cache.put(url, resp); }
    } catch (err) { /* offline again, or no CORS: not kept */ }
  }));
  await trim(cache);
}

async function trim(cache) {
  const keys = await cache.keys();               // oldest first
  for (const key of keys.slice(0, Math.max(0, keys.length - C.tileLimit))) {
    await cache.delete(key);
  }
}
