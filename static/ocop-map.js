/* Client side of the OCOP map, core: draws the layers from compact rows the server prepared,
 * filters them, shows a chosen feature at the zoom its position deserves, and keeps the whole
 * state in the URL.  The page's chrome (header, search, the panel) is static/ocop-panel.js;
 * "near me" and sharing are static/ocop-near.js.
 *
 * Safety: popups and tooltips arrive as HTML already escaped by the server (geo/text.py).
 * Everything this script writes itself goes through textContent or DOM properties; it never
 * builds HTML from data. */
(function () {
  "use strict";
  var OcopMap = {layers: {}, rows: {}, markers: {}, state: null, opts: null, map: null};

  /* Same rule as geo/text.py fold(): đ -> d, strip diacritics, lower case, single spaces.
   * The data's search text is folded by the server; only the typed query is folded here. */
  function fold(s) {
    return String(s || "").replace(/đ/g, "d").replace(/Đ/g, "D").normalize("NFD")
      .replace(/[\u0300-\u036f]/g, "").toLowerCase().split(/\s+/).filter(Boolean).join(" ");
  }
  OcopMap.fold = fold;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  OcopMap.el = el;

  function msg(key, values) {
    var text = OcopMap.opts.messages[key] || key;
    Object.keys(values || {}).forEach(function (k) { text = text.replace("{" + k + "}", values[k]); });
    return text;
  }
  OcopMap.msg = msg;

  /* In an embed, a link to another page of the app leaves the frame (a new tab, or the whole
   * window when the embed's `target` says _top): those pages may only be framed by this site
   * (CSP frame-ancestors), so inside another site's frame they would be refused.  Links to
   * other sites that say where they open (a new tab) are left as they are. */
  function outward(a) {
    if (!a || OcopMap.opts.mode !== "embed") { return a; }
    var ours = !a.getAttribute("href") || new URL(a.href, location.href).origin ===
      location.origin;
    if (!ours && a.getAttribute("target")) { return a; }
    a.setAttribute("target", ours ? OcopMap.state.target : "_blank");
    var rel = (a.getAttribute("rel") || "").split(/\s+/).filter(Boolean);
    if (rel.indexOf("noopener") < 0) { rel.push("noopener"); }
    a.setAttribute("rel", rel.join(" "));
    return a;
  }
  OcopMap.outward = outward;

  /* Any other link clicked in an embed (the attribution's, ones the server wrote) goes out
   * too; links within the map (#..., a feature's data-ocop-open, the language) stay. */
  function leaveFrameOnClick(ev) {
    var a = ev.target && ev.target.closest ? ev.target.closest("a[href]") : null;
    if (!a || a.hasAttribute("data-ocop-open") || a.classList.contains("ocop-lang") ||
        a.getAttribute("href").charAt(0) === "#") { return; }
    outward(a);
  }

  /* Markers are 44 px targets (a finger) around a smaller drawn symbol.  The HTML holds only
   * server-given icon URLs and numbers; names go in through setAttribute (see named()). */
  function icon(inner) {
    return L.divIcon({className: "ocop-icon", html: inner, iconSize: [44, 44],
                      iconAnchor: [22, 22], popupAnchor: [0, -14], tooltipAnchor: [0, -14]});
  }

  /* A marker's accessible name, set when it is drawn (clusters draw markers lazily). */
  function named(marker, label) {
    marker.on("add", function () {
      var node = marker.getElement();
      if (node) { node.setAttribute("aria-label", label); }
    });
    return marker;
  }

  function clusterIcon(cls, count, labelKey) {
    // The number is drawn for the eye; the name says what it counts.
    var n = String(count);
    return L.divIcon({className: "ocop-icon", iconSize: [44, 44], iconAnchor: [22, 22],
      html: '<span class="' + cls + '" aria-hidden="true">' + n + "</span>" +
            '<span class="ocop-sr">' + msg(labelKey, {n: n}).replace(/[<>&"]/g, "") + "</span>"});
  }

  /* Popup HTML comes in one file per layer, fetched when the first popup of it opens. */
  var popupFiles = {};
  function popupsOf(layerKey) {
    if (!popupFiles[layerKey]) {
      var url = OcopMap.opts.urls.popups.replace("{layer}", layerKey);
      var file = popupFiles[layerKey] = fetch(url).then(function (r) {
        if (!r.ok) { throw new Error("popups: " + r.status); }
        return r.json();
      });
      // Only a success is kept: a failure (a 503, a dropped connection) is forgotten, so the
      // next popup of this layer asks again instead of saying "try again" until a reload.
      file.catch(function () {
        if (popupFiles[layerKey] === file) { delete popupFiles[layerKey]; }
      });
    }
    return popupFiles[layerKey];
  }
  OcopMap.popupsOf = popupsOf;

  function activate(marker, layerKey, row) {
    marker.on("click", function () { OcopMap.select(layerKey, row.id, {move: false}); });
    // Leaflet turns Enter on a marker into "keypress" only for bound popups: do it here,
    // and for Space too, as the marker is a button.
    marker.on("keypress", function (e) {
      var k = e.originalEvent && e.originalEvent.key;
      if (k === "Enter" || k === " ") {
        e.originalEvent.preventDefault();
        OcopMap.select(layerKey, row.id, {move: false, focus: true});
      }
    });
    // Made when first shown, not for every marker up front (thousands at national scale).
    marker.bindTooltip(function () { return el("b", {}, row.title); }, {direction: "top"});
    marker.options.ocopId = row.id;
    return marker;
  }

  /* Clusters open with Enter or Space like a click, and keyboard focus follows into what
   * they reveal instead of falling back to the map. */
  function keyboardClusters(group) {
    group.on("clusterkeypress", function (e) {
      var k = e.originalEvent && e.originalEvent.key;
      if (k !== "Enter" && k !== " ") { return; }
      e.originalEvent.preventDefault();
      var cluster = e.layer, map = OcopMap.map;
      var children = cluster.getAllChildMarkers();
      if (map.getZoom() >= map.getMaxZoom() || cluster.getBounds().getNorthEast()
          .equals(cluster.getBounds().getSouthWest())) {
        cluster.spiderfy();
        setTimeout(function () { focusMarker(children[0]); }, 300);
        return;
      }
      map.once("moveend", function () {
        setTimeout(function () {
          var first = group.getVisibleParent(children[0]) || children[0];
          focusMarker(first);
        }, 350);
      });
      cluster.zoomToBounds({padding: [40, 40]});
    });
  }

  function focusMarker(m) {
    var node = m && m.getElement && m.getElement();
    if (node) { node.focus(); }
  }

  /* ---- layers ------------------------------------------------------------------------ */

  OcopMap.productLayer = function (data) {
    var group = L.markerClusterGroup({chunkedLoading: true, showCoverageOnHover: false,
      maxClusterRadius: 45, spiderfyOnMaxZoom: true,
      iconCreateFunction: function (c) {
        return clusterIcon("ocop-cluster", c.getChildCount(), "cluster_products");
      }});
    OcopMap.categories = data.categories;
    OcopMap.rows.products = data.rows;
    OcopMap.markers.products = data.rows.map(function (r) {
      var cls = "ocop-pin cat-" + data.categories[r.c] + (r.p ? " approx" : "");
      var html = '<span class="' + cls + '" aria-hidden="true"><img alt="" src="' +
        data.iconBase + data.icons[r.c] + '.svg"><span class="ocop-badge">' + r.s +
        "★</span></span>";
      var label = r.title + ", " + msg("stars_n", {n: r.s}) +
        (r.p ? ", " + msg("approx_marker") : "");
      return named(activate(L.marker([r.y, r.x], {icon: icon(html), keyboard: true}), "products",
                            r), label);
    });
    group.addLayers(OcopMap.markers.products);
    keyboardClusters(group);
    return group;
  };

  /* Many destinations share a centroid (see location_precision), so they cluster tightly
   * and spiderfy instead of hiding under each other. */
  OcopMap.destinationLayer = function (data) {
    var group = L.markerClusterGroup({maxClusterRadius: 12, showCoverageOnHover: false,
      iconCreateFunction: function (c) {
        return clusterIcon("ocop-dest ocop-dest-cluster", c.getChildCount(),
                           "cluster_destinations");
      }});
    OcopMap.rows.destinations = data.rows;
    OcopMap.markers.destinations = data.rows.map(function (r) {
      var html = '<span class="ocop-dest' + (r.p ? " approx" : "") + '" aria-hidden="true">' +
        '<img alt="" src="' + data.iconBase + data.kinds[r.k] + '.svg"></span>';
      var label = r.title + (r.p ? ", " + msg("approx_marker") : "");
      return named(activate(L.marker([r.y, r.x], {icon: icon(html), zIndexOffset: 500}),
                            "destinations", r), label);
    });
    group.addLayers(OcopMap.markers.destinations);
    keyboardClusters(group);
    return group;
  };

  OcopMap.communeLayer = function (data) {
    var group = L.featureGroup();
    OcopMap.rows.communes = data.rows;
    OcopMap.markers.communes = data.rows.map(function (r) {
      // Graduated: the area grows with the unit's number of products (r.n); a unit with
      // none is a small hollow ring.
      var radius = r.n ? 4 + 3 * Math.sqrt(r.n) : 4;
      return activate(L.circleMarker([r.y, r.x], {radius: radius, color: "#364fc7", weight: 1,
                                                  fillColor: "#748ffc",
                                                  fillOpacity: r.n ? 0.55 : 0}), "communes", r)
        .addTo(group);
    });
    return group;
  };

  function find(layerKey, id) {
    var markers = OcopMap.markers[layerKey] || [], rows = OcopMap.rows[layerKey] || [];
    for (var i = 0; i < markers.length; i++) {
      if (markers[i].options.ocopId === id) { return {marker: markers[i], row: rows[i]}; }
    }
    return null;
  }

  /* ---- showing one feature -------------------------------------------------------------- */

  /* How far in a feature may be shown: an exact point a street's view, a point placed at its
   * commune's or district's centre no closer than that unit (opts.zoomCaps, by precision). */
  function zoomFor(layerKey, row) {
    if (layerKey === "communes") { return OcopMap.opts.zoomCaps[1] - 1; }
    return OcopMap.opts.zoomCaps[row.p || 0];
  }

  /* Bring the marker into view at an honest zoom; if it is still inside a cluster there,
   * fan the cluster out (spiderfy) instead of zooming further in. */
  function reveal(layerKey, hit, move, done) {
    var map = OcopMap.map, group = OcopMap.layers[layerKey], marker = hit.marker;
    var zoom = Math.max(map.getZoom(), zoomFor(layerKey, hit.row));
    // Clusters are rebuilt in chunks after a filter or zoom, so a cluster found now may be
    // gone a moment later: look again until the marker stands on its own (a few tries).
    function spread(tries) {
      tries = tries || 0;
      var parent = group.getVisibleParent ? group.getVisibleParent(marker) : marker;
      if (!parent || parent === marker || !parent.spiderfy || tries >= 8) { done(); return; }
      parent.spiderfy();
      setTimeout(function () { spread(tries + 1); }, 250);
    }
    var inView = OcopMap.viewBounds().contains(marker.getLatLng());
    if (!move || (inView && map.getZoom() >= zoom)) { spread(0); return; }
    map.once("moveend", function () { setTimeout(spread, 350); });
    map.setView(freeCenter(marker.getLatLng(), zoom), zoom, {animate: !OcopMap.state.restoring});
  }

  var approxCircle = null, selectedMarker = null;
  function mark(hit, on) {
    if (approxCircle) { approxCircle.remove(); approxCircle = null; }
    if (selectedMarker && selectedMarker.getElement && selectedMarker.getElement()) {
      selectedMarker.getElement().classList.remove("ocop-selected");
    }
    selectedMarker = null;
    if (!on || !hit) { return; }
    selectedMarker = hit.marker;
    if (hit.marker.getElement && hit.marker.getElement()) {
      hit.marker.getElement().classList.add("ocop-selected");
    }
    // An approximate point: show the area it lies in, not just a pin that looks exact.
    if (hit.row.r) {
      approxCircle = L.circle(hit.marker.getLatLng(), {radius: hit.row.r, weight: 2,
        dashArray: "6 6", color: "#333", fillOpacity: 0.06, interactive: false})
        .addTo(OcopMap.map);
    }
  }

  /* Choose a feature: show it honestly, then its details (a popup on large screens, the
   * panel on phones).  opts.move: false when the user clicked it where it is. */
  OcopMap.select = function (layerKey, id, options) {
    var o = options || {}, map = OcopMap.map, group = OcopMap.layers[layerKey];
    var hit = find(layerKey, id);
    if (!hit || !map || !group) { return false; }
    // Opened from a marker: remember the marker, not its element, which a cluster may redraw.
    var opener = o.returnTo || document.activeElement;
    OcopMap.returnFocus = opener && opener === hit.marker.getElement() ? hit.marker : opener;
    if (!map.hasLayer(group)) { map.addLayer(group); }
    if (group.getVisibleParent && !group.hasLayer(hit.marker)) {
      OcopMap.setFilter({categories: [], stars: [], districts: [], communes: [], cql: ""});
    }
    OcopMap.state.sel = layerKey + ":" + id;
    writeUrl();
    function show() {
      reveal(layerKey, hit, o.move !== false, function () {
        if (OcopMap.state.sel !== layerKey + ":" + id) { return; }  // chosen something else
        mark(hit, true);
        OcopMap.panel.showFeature(layerKey, hit, o.focus !== false);
      });
    }
    if (map._animatingZoom) { map.once("zoomend", show); } else { show(); }
    return true;
  };
  OcopMap.open = function (layerKey, id) { return OcopMap.select(layerKey, id, {}); };

  /* Close the open feature and give focus back to whatever opened it. */
  OcopMap.deselect = function (restoreFocus) {
    if (!OcopMap.state.sel) { return; }
    OcopMap.state.sel = null;
    mark(null, false);
    OcopMap.panel.hideFeature();
    writeUrl();
    var back = OcopMap.returnFocus;
    OcopMap.returnFocus = null;
    if (back && back.getElement) { back = back.getElement(); }
    if (restoreFocus && back && document.contains(back)) { back.focus(); }
  };

  /* The map centre that puts `latlng` in the middle of the part the panels leave free. */
  function freeCenter(latlng, zoom) {
    var pad = OcopMap.panel.padding(), map = OcopMap.map;
    var shift = L.point((pad.right - pad.left) / 2, (pad.bottom - pad.top) / 2);
    return map.unproject(map.project(latlng, zoom).add(shift), zoom);
  }

  /* Pan a point out from under the header or panel (e.g. once the sheet has grown). */
  OcopMap.ensureVisible = function (latlng) {
    var map = OcopMap.map, p = map.latLngToContainerPoint(latlng), pad = OcopMap.panel.padding();
    var size = map.getSize(), m = 30;   // the marker's own half-size, and a little air
    if (p.x < pad.left + m || p.y < pad.top + m || p.x > size.x - pad.right - m ||
        p.y > size.y - pad.bottom - m) {
      OcopMap.map.panTo(freeCenter(latlng, OcopMap.map.getZoom()));
    }
  };

  /* The part of the map not under the header or the panel. */
  OcopMap.viewBounds = function () {
    var map = OcopMap.map, pad = OcopMap.panel.padding();
    var size = map.getSize();
    var nw = map.containerPointToLatLng([pad.left, pad.top]);
    var se = map.containerPointToLatLng([size.x - pad.right, size.y - pad.bottom]);
    return L.latLngBounds(nw, se);
  };

  /* ---- filters ----------------------------------------------------------------------- */

  function matches(row, st, isProduct) {
    if (st.districts.length && st.districts.indexOf(row.d) < 0) { return false; }
    if (st.communes.length && st.communes.indexOf(row.m) < 0) { return false; }
    if (!isProduct) { return true; }
    if (st.valid && row.v !== "valid") { return false; }
    if (st.categories.length && st.categories.indexOf(OcopMap.categories[row.c]) < 0) {
      return false;
    }
    return !(st.stars.length && st.stars.indexOf(row.s) < 0);
  }

  /* `filter` (CQL2, as the OGC API and the downloads read it) filters products, as the
   * map's other filters do: the server says which ids match (loadCql). */
  function cqlKeeps(key, row) {
    var ids = OcopMap.cqlIds && OcopMap.cqlIds[key];
    return !ids || ids[row.id] === true;
  }

  function loadCql(st) {
    var opts = OcopMap.opts, ids = {}, errors = [], keys = ["products"];
    var asked = st.cql;
    return Promise.all(keys.map(function (key) {
      var q = new URLSearchParams({filter: st.cql, properties: "id", limit: "10000", f: "json"});
      if (st.cqlLang) { q.set("filter-lang", st.cqlLang); }
      return fetch(opts.urls.ogc + "collections/" + key + "/items?" + q.toString())
        .then(function (r) { return r.json().then(function (doc) { return [r.ok, doc]; }); })
        .then(function (res) {
          if (!res[0]) { errors.push(res[1].description || ""); return; }
          ids[key] = {};
          res[1].features.forEach(function (f) { ids[key][f.id] = true; });
        })
        .catch(function () { errors.push(""); });
    })).then(function () {
      if (OcopMap.state.cql !== asked) { return; }     // cleared meanwhile
      if (errors.length) {
        OcopMap.state.cql = "";
        OcopMap.panel.notice(msg("ignored") + " filter=" + asked + (errors[0] ? " (" +
          errors[0] + ")" : ""));
      }
      OcopMap.cqlIds = ids;
      OcopMap.setFilter(OcopMap.state);
    });
  }

  function classFor(n) {
    var found = OcopMap.opts.classes[0];
    OcopMap.opts.classes.forEach(function (c) { if (n >= c.min) { found = c; } });
    return found;
  }

  OcopMap.activeFilters = function () {
    var st = OcopMap.state;
    return st.categories.length + st.stars.length + st.districts.length + st.communes.length +
      (st.valid ? 1 : 0) + (st.cql ? 1 : 0);
  };

  /* Apply the filter to markers, district colours and counts, the legend and the links. */
  OcopMap.setFilter = function (filter) {
    var st = OcopMap.state, opts = OcopMap.opts;
    st.categories = filter.categories || []; st.stars = filter.stars || [];
    st.districts = filter.districts || []; st.communes = filter.communes || [];
    st.valid = !!filter.valid;
    if (filter !== st && Object.prototype.hasOwnProperty.call(filter, "cql")) {
      st.cql = filter.cql || ""; st.cqlLang = ""; OcopMap.cqlIds = null;
    }
    var counts = {}, shown = 0;
    ["products", "destinations"].forEach(function (key) {
      var group = OcopMap.layers[key], keep = [];
      OcopMap.rows[key].forEach(function (r, i) {
        if (matches(r, st, key === "products") && cqlKeeps(key, r)) {
          keep.push(OcopMap.markers[key][i]);
          if (key === "products") {
            shown += 1;
            var c = counts[r.d] || (counts[r.d] = {total: 0, 3: 0, 4: 0, 5: 0});
            c.total += 1; c[r.s] += 1;
          }
        }
      });
      group.clearLayers();
      group.addLayers(keep);
    });
    var used = {};
    OcopMap.layers.districts.eachLayer(function (layer) {
      var code = layer.feature.properties.code, c = counts[code] || {total: 0, 3: 0, 4: 0, 5: 0};
      var cls = classFor(c.total);
      used[cls.min] = true;
      layer.setStyle({fillColor: cls.color});
      var d = OcopMap.districtInfo[code];
      // nameHtml is escaped by the server; the rest are numbers and a server-escaped text.
      var tip = '<div class="ocop-tip"><b>' + d.nameHtml + "</b>" +
        opts.productsCountHtml.replace("{n}", String(c.total)) + ": " +
        opts.stars.map(function (s) { return s + "★ " + c[s]; }).join(" · ") + "</div>";
      if (layer.getTooltip()) { layer.setTooltipContent(tip); } else {
        layer.bindTooltip(tip, {sticky: true});
      }
    });
    st.shown = shown;
    OcopMap.panel.filtered(used);
    writeUrl();
  };

  /* ---- URL state: view, filters, search, selection, layers, radius are all in the URL ---- */

  function filterParams(includeView) {
    var st = OcopMap.state, p = new URLSearchParams();
    st.categories.forEach(function (c) { p.append("category", c); });
    st.stars.forEach(function (s) { p.append("stars", String(s)); });
    st.districts.forEach(function (d) { p.append("district", d); });
    st.communes.forEach(function (c) { p.append("commune", c); });
    if (st.valid) { p.append("certificate", "valid"); }
    if (st.cql) {
      p.set("filter", st.cql);
      if (st.cqlLang) { p.set("filter-lang", st.cqlLang); }
    }
    if (includeView && OcopMap.map) {
      var b = OcopMap.map.getBounds();
      p.set("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map(function (v) { return v.toFixed(4); }).join(","));
    }
    return p;
  }
  OcopMap.filterParams = filterParams;

  /* The URL of the current state; `only` overrides (e.g. {sel: ...} for one place). */
  OcopMap.stateUrl = function (only) {
    var st = OcopMap.state, map = OcopMap.map, o = only || {};
    var p = filterParams(false), c = o.center || map.getCenter();
    if (st.q) { p.set("q", st.q); }
    var sel = "sel" in o ? o.sel : st.sel;
    if (sel) { p.set("sel", sel); }
    p.set("view", [o.zoom || map.getZoom(), c.lat.toFixed(5), c.lng.toFixed(5)].join("/"));
    if (st.layersParam !== null) { p.set("layers", st.layersParam); }
    if (st.controlsParam !== null) { p.set("controls", st.controlsParam); }
    if (st.targetParam) { p.set("target", st.targetParam); }
    if (st.radius !== OcopMap.opts.radii.default) { p.set("radius", String(st.radius)); }
    if (st.near && !st.nearIsDevice) {
      p.set("near", st.near.lng.toFixed(5) + "," + st.near.lat.toFixed(5));
    }
    p.set("lang", OcopMap.opts.lang);
    return p;
  };

  function writeUrl() {
    var st = OcopMap.state, map = OcopMap.map;
    if (!map || !st || !st.ready) { return; }
    var p = OcopMap.stateUrl();
    history.replaceState(null, "", location.pathname + "?" + p.toString());
    OcopMap.panel.stateChanged(p);
  }
  OcopMap.writeUrl = writeUrl;

  function readUrl() {
    var p = new URLSearchParams(location.search), opts = OcopMap.opts, ignored = [];
    var codes = opts.districts.map(function (d) { return d.code; });
    var cats = opts.categories.map(function (c) { return c.code; });
    function pick(name, allowed, convert) {
      var out = [];
      p.getAll(name).forEach(function (v) {
        var x = convert ? convert(v) : v;
        if (allowed.indexOf(x) >= 0) { if (out.indexOf(x) < 0) { out.push(x); } } else {
          ignored.push(name + "=" + v);
        }
      });
      return out;
    }
    var st = {categories: pick("category", cats), stars: pick("stars", opts.stars, Number),
              districts: pick("district", codes),
              communes: pick("commune", opts.communes.map(function (c) { return c.code; })),
              valid: pick("certificate", ["valid"]).length > 0,
              q: (p.get("q") || "").slice(0, opts.maxQuery), sel: null, view: null,
              radius: opts.radii.default, near: null};
    st.cql = "";
    st.cqlLang = "";
    if (p.get("filter")) {
      if (opts.urls.ogc) {
        st.cql = p.get("filter");
        st.cqlLang = p.get("filter-lang") || "";
      } else { ignored.push("filter=" + p.get("filter")); }
    }
    var radius = pick("radius", opts.radii.choices, Number);
    if (radius.length) { st.radius = radius[0]; }
    var sel = p.get("sel");
    if (sel) {
      var parts = sel.split(":");
      if (parts.length === 2 && OcopMap.rows[parts[0]] &&
          OcopMap.rows[parts[0]].some(function (r) { return r.id === parts[1]; })) {
        st.sel = sel;
      } else { ignored.push("sel=" + sel); }
    }
    function list(name, allowed, fallback) {
      if (!p.has(name)) { return fallback; }
      var out = [];
      p.get(name).split(",").filter(Boolean).forEach(function (v) {
        if (allowed.indexOf(v) >= 0) { out.push(v); } else { ignored.push(name + "=" + v); }
      });
      return out;
    }
    var embed = opts.mode === "embed";
    var target = embed ? pick("target", opts.linkTargets) : [];
    st.target = target[0] || opts.linkTargets[0];
    st.targetParam = target.length ? target[0] : null;
    st.layers = list("layers", opts.layers, opts.defaultLayers);
    st.controls = list("controls", opts.controls, embed ? opts.embedControls : opts.controls);
    st.layersParam = p.get("layers");
    st.controlsParam = p.get("controls");
    var view = p.get("view");
    if (view) {
      var v = view.split("/").map(Number);
      if (v.length === 3 && v.every(isFinite) && v[0] >= 3 && v[0] <= 19 &&
          Math.abs(v[1]) <= 90 && Math.abs(v[2]) <= 180) {
        st.view = v;
      } else { ignored.push("view=" + view); }
    }
    var near = p.get("near");
    if (near) {
      var n = near.split(",").map(Number);
      if (n.length === 2 && n.every(isFinite) && Math.abs(n[0]) <= 180 && Math.abs(n[1]) <= 90) {
        st.near = L.latLng(n[1], n[0]);
      } else { ignored.push("near=" + near); }
    }
    return {state: st, ignored: ignored};
  }

  /* Which layers show: `layers` in the URL; the layer switch writes it back. */
  function applyLayers(map, st) {
    var wanted = st.layers.slice();
    applying = true;   // the adds and removes below are not the user's changes
    OcopMap.opts.layers.forEach(function (key) {
      var layer = OcopMap.layers[key];
      if (!layer) { return; }
      if (wanted.indexOf(key) >= 0) { map.addLayer(layer); } else { map.removeLayer(layer); }
    });
    applying = false;
    OcopMap.panel.layersShown();
  }

  var applying = false;
  function layersChanged() {
    var st = OcopMap.state, opts = OcopMap.opts, map = OcopMap.map;
    if (applying) { return; }
    OcopMap.panel.layersShown();
    st.layers = opts.layers.filter(function (k) {
      return OcopMap.layers[k] && map.hasLayer(OcopMap.layers[k]);
    });
    var value = st.layers.join(",");
    // The default needs no parameter, unless the link already named its layers (an embed).
    st.layersParam = value === opts.defaultLayers.join(",") && st.layersParam === null ?
      null : value;
    writeUrl();
  }

  /* ---- search ranking ------------------------------------------------------------------- */

  OcopMap.searchEntries = function () {
    var out = [];
    [["products", msg("kind_product")], ["destinations", msg("kind_destination")],
     ["communes", msg("kind_commune")]].forEach(function (pair, order) {
      (OcopMap.rows[pair[0]] || []).forEach(function (r) {
        out.push({label: r.title, sub: r.sub, kind: pair[1], f: r.f, g: r.g, order: order,
                  layer: pair[0], id: r.id});
      });
    });
    OcopMap.opts.districts.forEach(function (d) {
      out.push({label: d.name, sub: "", kind: msg("kind_district"), f: fold(d.name), g: "",
                order: 2, district: d});
    });
    return out;
  };

  /* Ranked, accent-insensitive, prefix-tolerant: the name starting with the query beats a
   * word of the name starting with it, which beats the address or district, and so on. */
  function rank(entries, query) {
    var q = fold(query);
    if (!q) { return []; }
    var tokens = q.split(" "), scored = [];
    entries.forEach(function (e) {
      var f = " " + e.f, g = " " + e.g, score = -1;
      if (e.f.lastIndexOf(q, 0) === 0) { score = 0; }
      else if (f.indexOf(" " + q) >= 0) { score = 1; }
      else if (g.indexOf(" " + q) >= 0) { score = 2; }
      else if (tokens.every(function (t) { return (f + g).indexOf(" " + t) >= 0; })) { score = 3; }
      if (score >= 0) { scored.push([score, e.order, e.label.length, e]); }
    });
    scored.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1] || a[2] - b[2]; });
    return scored.slice(0, 8).map(function (s) { return s[3]; });
  }
  OcopMap.rank = rank;

  OcopMap.choose = function (entry) {
    if (entry.district) {
      var b = entry.district.bounds;
      OcopMap.deselect(false);
      OcopMap.fit([[b[1], b[0]], [b[3], b[2]]]);
    } else {
      OcopMap.select(entry.layer, entry.id, {});
    }
  };

  /* Fit bounds to the part of the map the header and panel leave free. */
  OcopMap.fit = function (bounds, options) {
    var pad = OcopMap.panel.padding();
    OcopMap.map.fitBounds(bounds, L.extend({paddingTopLeft: [pad.left + 8, pad.top + 8],
      paddingBottomRight: [pad.right + 8, pad.bottom + 8]}, options || {}));
  };

  /* ---- putting it together ------------------------------------------------------------ */

  OcopMap.decorate = function (map, opts) {
    OcopMap.map = map;
    OcopMap.opts = opts;
    OcopMap.districtInfo = {};
    opts.districts.forEach(function (d) { OcopMap.districtInfo[d.code] = d; });
    var parsed = readUrl(), st = parsed.state;
    OcopMap.state = st;
    OcopMap.panel.build(map, opts, st);
    opts.attributions.forEach(function (a) { map.attributionControl.addAttribution(a); });

    map.on("moveend", writeUrl);
    if (opts.mode === "embed") { document.addEventListener("click", leaveFrameOnClick, true); }
    map.on("overlayadd overlayremove", layersChanged);
    applyLayers(map, st);
    OcopMap.setFilter(st);
    if (st.cql) { loadCql(st); }
    if (parsed.ignored.length) {
      OcopMap.panel.notice(msg("ignored") + " " + parsed.ignored.join(", "));
    }
    // The first view: the link's, else the region fitted to the free part of the screen.
    if (st.view) {
      map.setView([st.view[1], st.view[2]], st.view[0], {animate: false});
    } else {
      var b = opts.firstView;
      OcopMap.fit([[b[1], b[0]], [b[3], b[2]]], {animate: false});
    }
    st.ready = true;
    if (OcopMap.near) { OcopMap.near.init(map, st); }
    if (st.sel) {
      // After the clusters have settled on the restored view, or the cluster never calls back.
      var s = st.sel.split(":");
      st.restoring = true;
      map.whenReady(function () {
        setTimeout(function () {
          OcopMap.select(s[0], s[1], {move: !st.view, focus: false});
          st.restoring = false;
        }, 50);
      });
    }
    writeUrl();
    map.getContainer().setAttribute("data-ocop-ready", "1");
  };

  window.OcopMap = OcopMap;
})();
