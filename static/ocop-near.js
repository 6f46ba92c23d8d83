/* "Near me" and sharing, for a tourist on the spot.
 *
 * Near me: the browser's position drawn with its accuracy circle, and what lies within the
 * chosen radius (1, 5, 10, 25 km) listed nearest first in the panel; a right-click or a long
 * press anywhere does the same for that point.  The radius and a chosen point go in the URL;
 * the device's own position does not (a shared link should not say where you are).
 * Share: the Web Share API where the device has it (phones), else the link is copied. */
(function () {
  "use strict";
  var O = window.OcopMap, el = O.el, msg = O.msg;
  var N = {};
  O.near = N;
  var you = null, accuracy = null, ring = null, P = null;

  function km(value) {
    return value.toLocaleString(O.opts.lang, {maximumFractionDigits: value < 10 ? 1 : 0}) + " km";
  }

  /* What is within the radius of a point among the features the filters show. */
  function around(latlng, radiusKm) {
    var out = [];
    [["products", msg("kind_product")], ["destinations", msg("kind_destination")]]
      .forEach(function (pair) {
        var group = O.layers[pair[0]];
        (O.rows[pair[0]] || []).forEach(function (r, i) {
          var m = O.markers[pair[0]][i];
          if (group && !group.hasLayer(m)) { return; }  // filtered out
          var d = latlng.distanceTo([r.y, r.x]) / 1000;
          if (d <= radiusKm) { out.push({layer: pair[0], row: r, km: d, kind: pair[1]}); }
        });
      });
    return out.sort(function (a, b) { return a.km - b.km; });
  }

  function render() {
    var st = O.state;
    N.heading.textContent = st.near ? msg(st.nearIsDevice ? "near_you" : "near_point") :
      msg("near_me");
    N.radios.forEach(function (b) {
      b.setAttribute("aria-pressed", Number(b.value) === st.radius ? "true" : "false");
    });
    N.list.textContent = "";
    if (!st.near) { return; }
    var found = around(st.near, st.radius);
    if (!found.length) { N.list.appendChild(el("li", {}, msg("near_empty", {km: st.radius}))); }
    found.slice(0, 100).forEach(function (f) {
      var li = el("li"), b = el("button", {type: "button", "class": "ocop-near-item"});
      b.appendChild(el("b", {}, f.row.title));
      b.appendChild(el("span", {"class": "kind"}, km(f.km) + " · " + f.kind));
      b.addEventListener("click", function () {
        O.select(f.layer, f.row.id, {returnTo: b});
      });
      li.appendChild(b);
      N.list.appendChild(li);
    });
    N.count.textContent = msg("results_count", {n: found.length});
    if (N.pageLink) {
      N.pageLink.href = O.opts.urls.nearby + "?" + new URLSearchParams({
        near: st.near.lng.toFixed(5) + "," + st.near.lat.toFixed(5), radius_km: st.radius,
        lang: O.opts.lang}).toString();
    }
  }

  /* Show what is near a point: draw the radius, fit it, list it. */
  N.at = function (latlng, device) {
    var st = O.state;
    st.near = latlng;
    st.nearIsDevice = !!device;
    if (ring) { ring.remove(); }
    ring = L.circle(latlng, {radius: st.radius * 1000, color: "#1c7ed6", weight: 2,
                             fill: false, interactive: false}).addTo(O.map);
    P.show("near");
    O.fit(ring.getBounds());
    render();
    O.writeUrl();
  };

  function setRadius(r) {
    O.state.radius = r;
    if (O.state.near) { N.at(O.state.near, O.state.nearIsDevice); } else { render(); O.writeUrl(); }
  }

  function locate() {
    var st = O.state;
    P.show("near");
    if (!navigator.geolocation) { N.status.textContent = msg("location_unavailable"); return; }
    N.status.textContent = msg("locating");
    O.map.locate({setView: false, enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    void st;
  }

  function found(e) {
    if (you) { you.remove(); accuracy.remove(); }
    accuracy = L.circle(e.latlng, {radius: e.accuracy, color: "#1c7ed6", weight: 1,
                                   fillOpacity: 0.12, interactive: false}).addTo(O.map);
    you = L.circleMarker(e.latlng, {radius: 8, color: "#fff", weight: 3, fillColor: "#1c7ed6",
                                    fillOpacity: 1, interactive: false}).addTo(O.map);
    N.status.textContent = msg("accuracy", {m: Math.round(e.accuracy)});
    N.at(e.latlng, true);
  }

  N.build = function (panel, enabled) {
    P = panel;
    if (enabled) {
      var v = P.addView("near", msg("near_me"));
      N.heading = el("h2", {}, msg("near_me"));
      v.appendChild(N.heading);
      N.status = el("p", {"class": "ocop-near-status", role: "status"});
      v.appendChild(N.status);
      var radios = el("div", {"class": "ocop-radius", role: "group", "aria-label": msg("radius")});
      radios.appendChild(el("span", {}, msg("radius") + ":"));
      N.radios = O.opts.radii.choices.map(function (r) {
        var b = el("button", {type: "button", "class": "ocop-button", value: String(r),
                              "aria-pressed": "false"}, r + " km");
        b.addEventListener("click", function () { setRadius(r); });
        radios.appendChild(b);
        return b;
      });
      v.appendChild(radios);
      N.count = el("p", {"class": "ocop-near-count"});
      v.appendChild(N.count);
      N.list = el("ul", {"class": "ocop-near-list"});
      v.appendChild(N.list);
      N.pageLink = O.outward(el("a", {"class": "ocop-button"}, msg("open_list")));
      v.appendChild(N.pageLink);
      P.addTab("near", msg("near_me"), function () {
        if (P.view === "near") { P.hide(); return; }
        if (O.state.near && !O.state.nearIsDevice) { P.show("near"); render(); } else { locate(); }
      });
    }
    P.addTab("share", msg("share"), function () {
      // From an embed, the link shared is the full map's ("View larger map"), not the frame's.
      share(P.largerLink ? P.largerLink.href : location.href, document.title, N.shareStatus);
    });
    N.shareStatus = el("span", {"class": "ocop-sr", role: "status"});
    P.tabBar.appendChild(N.shareStatus);
  };

  N.init = function (map, st) {
    if (!N.list) { return; }
    map.on("locationfound", found);
    map.on("locationerror", function () { N.status.textContent = msg("location_unavailable"); });
    // A right-click, or a long press on a phone (Leaflet's contextmenu).
    map.on("contextmenu", function (e) { N.status.textContent = ""; N.at(e.latlng, false); });
    if (st.near) { N.at(st.near, false); }
  };

  /* ---- sharing --------------------------------------------------------------------------- */

  function share(url, title, status) {
    var touch = window.matchMedia("(pointer: coarse)").matches;
    if (navigator.share && touch) {
      navigator.share({title: title, url: url}).catch(function () {});
      return;
    }
    function shown(text) {
      status.textContent = text;
      P.notice(text);
      setTimeout(function () { if (P.noticeBox.textContent === text) { P.notice(""); } }, 4000);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(url).then(function () { shown(msg("link_copied")); },
        function () { shown(msg("copy_this") + " " + url); });
    } else { shown(msg("copy_this") + " " + url); }
  }
  N.share = share;

  /* A button in a feature's details that shares a link to that place. */
  N.shareButton = function (layerKey, id) {
    var wrap = el("p", {"class": "ocop-share"});
    var b = el("button", {type: "button", "class": "ocop-button"}, msg("share_place"));
    var status = el("span", {"class": "ocop-sr", role: "status"});
    b.addEventListener("click", function () {
      var row = null;
      (O.rows[layerKey] || []).forEach(function (r) { if (r.id === id) { row = r; } });
      var p = O.stateUrl({sel: layerKey + ":" + id,
                          center: row ? L.latLng(row.y, row.x) : null});
      var page = location.origin + location.pathname;
      if (P.largerLink) {       // an embed: the full map's page, without the frame's options
        page = new URL(O.opts.urls.full, location.href).href.split("?")[0];
        ["layers", "controls", "target"].forEach(function (k) { p.delete(k); });
      }
      share(page + "?" + p.toString(), row ? row.title : document.title, status);
    });
    wrap.appendChild(b);
    wrap.appendChild(status);
    return wrap;
  };
})();
