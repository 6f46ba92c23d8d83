/* Client side of the OCOP map: draws the layers from compact rows the server prepared, and
 * adds search, filters, URL state and "near me".
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

  function pin(cls, inner) {
    return L.divIcon({className: "ocop-icon", html: '<span class="' + cls + '">' + inner + "</span>",
                      iconSize: [26, 26], iconAnchor: [13, 13], popupAnchor: [0, -12]});
  }

  /* Popups pan clear of the panel in the top-left corner and never grow taller than the
   * space under it: one padding array, shared by every popup and updated in place. */
  var padTopLeft = [20, 130];

  function fitPopup(marker) {
    var map = OcopMap.map, panel = OcopMap.panel, popup = marker.getPopup();
    if (!map || !panel || !popup) { return; }
    var top = panel.getBoundingClientRect().bottom - map.getContainer().getBoundingClientRect().top;
    var small = map.getSize().x < 600;
    padTopLeft[0] = small ? 10 : panel.getBoundingClientRect().right + 10;
    padTopLeft[1] = small ? Math.round(top) + 10 : 20;
    popup.options.maxHeight = Math.max(160, map.getSize().y - (small ? top : 0) - 90);
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

  function fillPopup(popup, layerKey, id) {
    popupsOf(layerKey).then(function (all) {
      popup.setContent(all[id] || "");  // server-built, escaped
      wireLinks(popup);
    }, function () {
      popup.setContent(el("p", {}, OcopMap.opts.messages.popup_unavailable));
    });
  }

  function bind(marker, row, layerKey) {
    marker.on("click", function () { fitPopup(marker); });  // runs before the popup opens
    var loading = el("p", {"class": "ocop-loading"}, "…");
    marker.bindPopup(loading, {maxWidth: 300, autoPanPadding: [20, 20],
                               autoPanPaddingTopLeft: padTopLeft});
    marker.on("popupopen", function (e) { fillPopup(e.popup, layerKey, row.id); });
    marker.bindTooltip(el("b", {}, row.title), {direction: "top", offset: [0, -10]});
    marker.options.ocopId = row.id;
    return marker;
  }

  /* ---- layers ------------------------------------------------------------------------ */

  OcopMap.productLayer = function (data) {
    var group = L.markerClusterGroup({chunkedLoading: true, showCoverageOnHover: false,
                                      maxClusterRadius: 45, spiderfyOnMaxZoom: true});
    OcopMap.categories = data.categories;
    OcopMap.rows.products = data.rows;
    OcopMap.markers.products = data.rows.map(function (r) {
      var cls = "ocop-pin cat-" + data.categories[r.c] + " stars-" + r.s;
      return bind(L.marker([r.y, r.x], {icon: pin(cls, String(r.s)), title: r.title,
                                        keyboard: true}), r, "products");
    });
    group.addLayers(OcopMap.markers.products);
    return group;
  };

  /* Many destinations share a centroid (see location_precision), so they cluster tightly
   * and spiderfy instead of hiding under each other. */
  OcopMap.destinationLayer = function (data) {
    var group = L.markerClusterGroup({maxClusterRadius: 12, showCoverageOnHover: false,
      iconCreateFunction: function (c) {
        return pin("ocop-dest ocop-dest-cluster", String(c.getChildCount()));
      }});
    OcopMap.rows.destinations = data.rows;
    OcopMap.markers.destinations = data.rows.map(function (r) {
      var img = '<img alt="" src="' + data.iconBase + data.kinds[r.k] + '.svg">';
      return bind(L.marker([r.y, r.x], {icon: pin("ocop-dest", img), title: r.title,
                                        zIndexOffset: 500}), r, "destinations");
    });
    group.addLayers(OcopMap.markers.destinations);
    return group;
  };

  OcopMap.communeLayer = function (data) {
    var group = L.featureGroup();
    OcopMap.rows.communes = data.rows;
    OcopMap.markers.communes = data.rows.map(function (r) {
      // Graduated: the area grows with the unit's number of products (r.n); a unit with
      // none is a small hollow ring.
      var radius = r.n ? 4 + 3 * Math.sqrt(r.n) : 4;
      return bind(L.circleMarker([r.y, r.x], {radius: radius, color: "#364fc7", weight: 1,
                                              fillColor: "#748ffc",
                                              fillOpacity: r.n ? 0.55 : 0}), r,
                  "communes").addTo(group);
    });
    return group;
  };

  /* Show a feature by id: switch its layer on, zoom into its cluster, open its popup.
   * markercluster's zoomToShowLayer never calls back if a zoom is already animating, so
   * wait for that zoom to end first. */
  OcopMap.open = function (layerKey, id) {
    var group = OcopMap.layers[layerKey], map = OcopMap.map, found = null;
    if (!group || !map) { return false; }
    (OcopMap.markers[layerKey] || []).forEach(function (m) {
      if (m.options.ocopId === id) { found = m; }
    });
    if (!found) { return false; }
    if (!map.hasLayer(group)) { map.addLayer(group); }
    if (group.getVisibleParent && !group.hasLayer(found)) {
      OcopMap.setFilter({categories: [], stars: [], districts: []});
    }
    function show() {
      fitPopup(found);
      if (!group.getVisibleParent) {
        map.setView(found.getLatLng(), Math.max(map.getZoom(), 13));
        found.openPopup();
      } else if (group.getVisibleParent(found) === found) {
        found.openPopup();
      } else {
        group.zoomToShowLayer(found, function () { found.openPopup(); });
      }
    }
    if (map._animatingZoom) { map.once("zoomend", show); } else { show(); }
    return true;
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

  function classFor(n) {
    var found = OcopMap.opts.classes[0];
    OcopMap.opts.classes.forEach(function (c) { if (n >= c.min) { found = c; } });
    return found;
  }

  /* Apply the filter to markers, district colours and counts, the legend and the links. */
  OcopMap.setFilter = function (filter) {
    var st = OcopMap.state, opts = OcopMap.opts;
    st.categories = filter.categories; st.stars = filter.stars; st.districts = filter.districts;
    st.communes = filter.communes || []; st.valid = !!filter.valid;
    var counts = {}, shown = 0;
    ["products", "destinations"].forEach(function (key) {
      var group = OcopMap.layers[key], keep = [];
      OcopMap.rows[key].forEach(function (r, i) {
        if (matches(r, st, key === "products")) {
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
    var list = OcopMap.legendClasses;
    list.textContent = "";
    opts.classes.forEach(function (cls) {
      if (!used[cls.min] && cls.min !== 0) { return; }
      var li = el("li"), sw = el("span", {"class": "ocop-swatch box"});
      sw.style.background = cls.color;
      li.appendChild(sw);
      li.appendChild(document.createTextNode(cls.label));
      list.appendChild(li);
    });
    OcopMap.legendShown.textContent = opts.messages.shown
      .replace("{n}", String(shown)).replace("{total}", String(OcopMap.rows.products.length));
    syncControls();
    writeUrl();
  };

  /* ---- URL state: view, filters, search, selection and language are all in the URL ---- */

  function filterParams(includeView) {
    var st = OcopMap.state, p = new URLSearchParams();
    st.categories.forEach(function (c) { p.append("category", c); });
    st.stars.forEach(function (s) { p.append("stars", String(s)); });
    st.districts.forEach(function (d) { p.append("district", d); });
    st.communes.forEach(function (c) { p.append("commune", c); });
    if (st.valid) { p.append("certificate", "valid"); }
    if (includeView && OcopMap.map) {
      var b = OcopMap.map.getBounds();
      p.set("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map(function (v) { return v.toFixed(4); }).join(","));
    }
    return p;
  }

  function writeUrl() {
    var st = OcopMap.state, map = OcopMap.map;
    if (!map || !st.ready) { return; }
    var p = filterParams(false), c = map.getCenter();
    if (st.q) { p.set("q", st.q); }
    if (st.sel) { p.set("sel", st.sel); }
    p.set("view", [map.getZoom(), c.lat.toFixed(5), c.lng.toFixed(5)].join("/"));
    p.set("lang", OcopMap.opts.lang);
    if (OcopMap.largerLink) { OcopMap.largerLink.href = OcopMap.opts.urls.full + "?" + p.toString(); }
    if (st.layersParam !== null) { p.set("layers", st.layersParam); }
    if (st.controlsParam !== null) { p.set("controls", st.controlsParam); }
    history.replaceState(null, "", location.pathname + "?" + p.toString());
    // The language switch keeps the whole state.
    var langLink = OcopMap.panel && OcopMap.panel.querySelector("a.ocop-lang");
    if (langLink) {
      p.set("lang", langLink.getAttribute("hreflang"));
      var target = OcopMap.opts.static ? OcopMap.opts.urls.otherLang : location.pathname;
      langLink.href = target + "?" + p.toString();
    }
    updateLinks();
  }

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
              q: (p.get("q") || "").slice(0, opts.maxQuery), sel: null, view: null};
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
    return {state: st, ignored: ignored};
  }


  function notice(text) {
    var box = OcopMap.noticeBox;
    box.textContent = text;
    box.hidden = !text;
  }

  /* ---- the panel: search, filters, links ----------------------------------------------- */

  function searchEntries() {
    var m = OcopMap.opts.messages, out = [];
    [["products", m.kind_product], ["destinations", m.kind_destination],
     ["communes", m.kind_commune]].forEach(function (pair, order) {
      (OcopMap.rows[pair[0]] || []).forEach(function (r) {
        out.push({label: r.title, sub: r.sub, kind: pair[1], f: r.f, g: r.g, order: order,
                  layer: pair[0], id: r.id});
      });
    });
    OcopMap.opts.districts.forEach(function (d) {
      out.push({label: d.name, sub: "", kind: m.kind_district, f: fold(d.name), g: "",
                order: 2, district: d});
    });
    return out;
  }

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

  function choose(entry) {
    var st = OcopMap.state;
    if (entry.district) {
      var b = entry.district.bounds;
      OcopMap.map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
      st.sel = null;
    } else {
      st.sel = entry.layer + ":" + entry.id;
      OcopMap.open(entry.layer, entry.id);
    }
    writeUrl();
  }

  function buildSearch(panel) {
    var m = OcopMap.opts.messages, entries = searchEntries(), active = -1, results = [];
    var label = el("label", {"for": "ocop-q", "class": "ocop-sr"}, m.search);
    var input = el("input", {id: "ocop-q", type: "search", role: "combobox",
                             "aria-autocomplete": "list", "aria-expanded": "false",
                             "aria-controls": "ocop-results", autocomplete: "off",
                             placeholder: m.search_placeholder});
    var list = el("ul", {id: "ocop-results", role: "listbox", "class": "ocop-results"});
    list.hidden = true;
    function render() {
      list.textContent = "";
      results.forEach(function (e, i) {
        var li = el("li", {id: "ocop-opt-" + i, role: "option",
                           "aria-selected": i === active ? "true" : "false"});
        li.appendChild(el("b", {}, e.label));
        li.appendChild(el("span", {"class": "kind"}, e.kind + (e.sub ? " · " + e.sub : "")));
        li.addEventListener("mousedown", function (ev) { ev.preventDefault(); pickAt(i); });
        list.appendChild(li);
      });
      if (!results.length && input.value.trim()) {
        list.appendChild(el("li", {"class": "none"}, m.no_results));
      }
      list.hidden = !input.value.trim();
      input.setAttribute("aria-expanded", list.hidden ? "false" : "true");
      if (active >= 0) { input.setAttribute("aria-activedescendant", "ocop-opt-" + active); }
      else { input.removeAttribute("aria-activedescendant"); }
    }
    function pickAt(i) {
      var e = results[i];
      if (!e) { return; }
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      choose(e);
    }
    input.addEventListener("input", function () {
      OcopMap.state.q = input.value;
      results = rank(entries, input.value);
      active = results.length ? 0 : -1;
      render();
      clearTimeout(OcopMap._urlTimer);
      OcopMap._urlTimer = setTimeout(writeUrl, 300);
    });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "ArrowDown" && results.length) {
        active = (active + 1) % results.length; render(); ev.preventDefault();
      } else if (ev.key === "ArrowUp" && results.length) {
        active = (active - 1 + results.length) % results.length; render(); ev.preventDefault();
      } else if (ev.key === "Enter") {
        pickAt(active < 0 ? 0 : active); ev.preventDefault();
      } else if (ev.key === "Escape") {
        list.hidden = true; input.setAttribute("aria-expanded", "false");
      }
    });
    input.addEventListener("blur", function () {
      setTimeout(function () { list.hidden = true; }, 150);
    });
    OcopMap.searchInput = input;
    OcopMap.searchRun = function () { input.dispatchEvent(new Event("input")); };
    var box = el("div", {"class": "ocop-search"});
    box.appendChild(label); box.appendChild(input); box.appendChild(list);
    panel.appendChild(box);
  }

  function checkboxes(legend, items, name, onChange) {
    var fs = el("fieldset"), inputs = [];
    fs.appendChild(el("legend", {}, legend));
    items.forEach(function (it) {
      var lab = el("label"), cb = el("input", {type: "checkbox", name: name, value: it.value});
      cb.addEventListener("change", onChange);
      lab.appendChild(cb);
      lab.appendChild(document.createTextNode(" " + it.text));
      fs.appendChild(lab);
      inputs.push(cb);
    });
    return {fieldset: fs, inputs: inputs};
  }

  function currentFromControls() {
    var c = OcopMap.controls;
    function checked(list, conv) {
      return list.filter(function (i) { return i.checked; })
        .map(function (i) { return conv ? conv(i.value) : i.value; });
    }
    return {categories: checked(c.categories), stars: checked(c.stars, Number),
            districts: c.district.value ? [c.district.value] : [],
            communes: c.commune.value ? [c.commune.value] : [], valid: c.valid.checked};
  }

  function syncControls() {
    var c = OcopMap.controls, st = OcopMap.state;
    if (!c) { return; }
    c.categories.forEach(function (i) { i.checked = st.categories.indexOf(i.value) >= 0; });
    c.stars.forEach(function (i) { i.checked = st.stars.indexOf(Number(i.value)) >= 0; });
    c.district.value = st.districts.length === 1 ? st.districts[0] : "";
    c.commune.value = st.communes.length === 1 ? st.communes[0] : "";
    c.valid.checked = !!st.valid;
  }

  function buildFilters(panel) {
    var opts = OcopMap.opts, m = opts.messages;
    var box = el("details", {"class": "ocop-filters"});
    box.appendChild(el("summary", {}, m.filters));
    function changed() { OcopMap.setFilter(currentFromControls()); }
    var cats = checkboxes(m.category_filter, opts.categories.map(function (c) {
      return {value: c.code, text: c.name};
    }), "category", changed);
    var stars = checkboxes(m.stars_filter, opts.stars.map(function (s) {
      return {value: String(s), text: s + "★"};
    }), "stars", changed);
    var lab = el("label", {"for": "ocop-district"}, m.district_filter);
    var sel = el("select", {id: "ocop-district"});
    sel.appendChild(el("option", {value: ""}, m.all_districts));
    opts.districts.forEach(function (d) { sel.appendChild(el("option", {value: d.code}, d.name)); });
    sel.addEventListener("change", changed);
    var clab = el("label", {"for": "ocop-commune"}, m.commune_filter);
    var csel = el("select", {id: "ocop-commune"});
    csel.appendChild(el("option", {value: ""}, m.all_communes));
    opts.communes.forEach(function (c) { csel.appendChild(el("option", {value: c.code}, c.name)); });
    csel.addEventListener("change", changed);
    var vlab = el("label"), valid = el("input", {type: "checkbox", name: "certificate",
                                                 value: "valid"});
    valid.addEventListener("change", changed);
    vlab.appendChild(valid);
    vlab.appendChild(document.createTextNode(" " + m.valid_only));
    var clear = el("button", {type: "button"}, m.clear_filters);
    clear.addEventListener("click", function () {
      OcopMap.setFilter({categories: [], stars: [], districts: []});
    });
    box.appendChild(cats.fieldset); box.appendChild(stars.fieldset); box.appendChild(vlab);
    box.appendChild(lab); box.appendChild(sel); box.appendChild(clab); box.appendChild(csel);
    box.appendChild(clear);
    var links = el("p", {"class": "ocop-links"});
    links.appendChild(el("span", {}, m.download + ": "));
    OcopMap.downloadLinks = ["geojson", "csv", "kml", "gpkg"].map(function (fmt) {
      var a = el("a", {"data-format": fmt, download: ""}, fmt.toUpperCase());
      links.appendChild(a);
      links.appendChild(document.createTextNode(" "));
      return a;
    });
    box.appendChild(links);
    if (!opts.static) {
      OcopMap.listLink = el("a", {"class": "ocop-list-link"}, m.list_view);
      box.appendChild(OcopMap.listLink);
    }
    panel.appendChild(box);
    OcopMap.controls = {categories: cats.inputs, stars: stars.inputs, district: sel,
                        commune: csel, valid: valid};
  }

  function updateLinks() {
    var urls = OcopMap.opts.urls, p = filterParams(true);
    (OcopMap.downloadLinks || []).forEach(function (a) {
      // A static copy has no server to filter: its downloads are the whole collection.
      var query = OcopMap.opts.static ? "" : "?" + p.toString();
      a.href = urls.exports + "products." + a.getAttribute("data-format") + query;
    });
    if (OcopMap.listLink && !OcopMap.opts.static) {
      var lp = filterParams(false);
      lp.set("lang", OcopMap.opts.lang);
      OcopMap.listLink.href = urls.list + "?" + lp.toString();
    }
  }

  /* ---- near me, and "what is near here?" anywhere on the map -------------------------- */

  function nearHere(latlng) {
    var m = OcopMap.opts.messages, box = el("div", {"class": "ocop-popup"});
    var a = el("a", {href: OcopMap.opts.urls.nearby + "?" + new URLSearchParams({
      near: latlng.lng.toFixed(5) + "," + latlng.lat.toFixed(5), lang: OcopMap.opts.lang
    }).toString()}, m.near_here);
    box.appendChild(a);
    L.popup().setLatLng(latlng).setContent(box).openOn(OcopMap.map);
  }

  function buildLocate(map) {
    var m = OcopMap.opts.messages, ctl = L.control({position: "topright"});
    ctl.onAdd = function () {
      var b = el("button", {type: "button", "class": "ocop-locate", title: m.near_me}, m.near_me);
      L.DomEvent.disableClickPropagation(b);
      b.addEventListener("click", function () {
        if (!navigator.geolocation) { notice(m.location_unavailable); return; }
        map.locate({setView: true, maxZoom: 13, timeout: 10000});
      });
      return b;
    };
    ctl.addTo(map);
    map.on("locationfound", function (e) { notice(""); nearHere(e.latlng); });
    map.on("locationerror", function () { notice(m.location_unavailable); });
    map.on("contextmenu", function (e) { nearHere(e.latlng); });
  }

  /* Which layers and controls show: the embed parameters `layers` and `controls`. */
  function applyChrome(map, st) {
    var c = st.controls;
    if (c.indexOf("zoom") < 0 && map.zoomControl) { map.zoomControl.remove(); }
    var layerCtl = map.getContainer().querySelector(".leaflet-control-layers");
    if (c.indexOf("layers") < 0 && layerCtl) { layerCtl.hidden = true; }
    OcopMap.opts.layers.forEach(function (key) {
      var layer = OcopMap.layers[key];
      if (!layer) { return; }
      if (st.layers.indexOf(key) >= 0) { map.addLayer(layer); } else { map.removeLayer(layer); }
    });
  }

  /* Links inside popups ("near here" lists) open features on this map. */
  function wireLinks(popup) {
    var node = popup.getElement();
    if (!node) { return; }
    node.querySelectorAll("a[data-ocop-open]").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        ev.preventDefault();
        var parts = a.getAttribute("data-ocop-open").split(":");
        OcopMap.state.sel = parts[0] + ":" + parts[1];
        OcopMap.open(parts[0], parts[1]);
        writeUrl();
      });
    });
  }

  /* ---- putting it together ------------------------------------------------------------ */

  OcopMap.decorate = function (map, opts) {
    OcopMap.map = map;
    OcopMap.opts = opts;
    OcopMap.districtInfo = {};
    opts.districts.forEach(function (d) { OcopMap.districtInfo[d.code] = d; });
    var parsed = readUrl(), chosen = parsed.state.controls;

    // The legend folds away on phones, and whenever a popup opens there.
    var small = window.matchMedia("(max-width: 600px)");
    var legend = L.control({position: "bottomright"});
    legend.onAdd = function () {
      var box = L.DomUtil.create("details", "ocop-legend");
      box.innerHTML = opts.legend;  // server-built, escaped
      box.open = !small.matches;
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      map.on("popupopen", function () { if (small.matches) { box.open = false; } });
      OcopMap.legendClasses = box.querySelector(".ocop-classes");
      OcopMap.legendShown = box.querySelector(".ocop-shown");
      return box;
    };
    if (chosen.indexOf("legend") >= 0) { legend.addTo(map); } else {
      OcopMap.legendClasses = el("ul");
      OcopMap.legendShown = el("p");
    }

    var title = L.control({position: "topleft"});
    title.onAdd = function () {
      var div = L.DomUtil.create("div", "ocop-title");
      OcopMap.panel = div;
      div.innerHTML = opts.title;  // server-built, escaped
      OcopMap.noticeBox = el("p", {"class": "ocop-notice", role: "status"});
      OcopMap.noticeBox.hidden = true;
      if (opts.mode === "embed") {
        div.classList.add("ocop-embedded");
        OcopMap.largerLink = el("a", {"class": "ocop-larger", target: "_blank",
                                      rel: "noopener"}, opts.messages.view_larger);
        div.appendChild(OcopMap.largerLink);
      }
      if (chosen.indexOf("search") >= 0) { buildSearch(div); }
      if (chosen.indexOf("filters") >= 0) { buildFilters(div); }
      div.appendChild(OcopMap.noticeBox);
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    title.addTo(map);
    // "Near me" lists places with the server's help; a static copy has none.
    if (chosen.indexOf("locate") >= 0 && !opts.static) { buildLocate(map); }
    opts.attributions.forEach(function (a) { map.attributionControl.addAttribution(a); });

    map.on("popupopen", function (e) {
      var id = e.popup._source && e.popup._source.options.ocopId;
      Object.keys(OcopMap.markers).forEach(function (key) {
        if (OcopMap.markers[key].indexOf(e.popup._source) >= 0) {
          OcopMap.state.sel = key + ":" + id;
        }
      });
      writeUrl();
    });
    map.on("popupclose", function () { OcopMap.state.sel = null; writeUrl(); });
    map.on("moveend", writeUrl);

    applyChrome(map, parsed.state);
    OcopMap.state = parsed.state;
    OcopMap.setFilter(parsed.state);
    if (parsed.ignored.length) { notice(opts.messages.ignored + " " + parsed.ignored.join(", ")); }
    if (parsed.state.view) {
      map.setView([parsed.state.view[1], parsed.state.view[2]], parsed.state.view[0],
                  {animate: false});
    }
    // The search box exists only when `controls` shows it (the embed's default does not);
    // `q` is still kept in the state and the URL.
    if (parsed.state.q && OcopMap.searchInput) { OcopMap.searchInput.value = parsed.state.q; }
    OcopMap.state.ready = true;
    if (parsed.state.sel) {
      // After the clusters have settled on the restored view, or the cluster never calls back.
      var s = parsed.state.sel.split(":");
      map.whenReady(function () { setTimeout(function () { OcopMap.open(s[0], s[1]); }, 50); });
    }
    writeUrl();
    map.getContainer().setAttribute("data-ocop-ready", "1");
  };

  window.OcopMap = OcopMap;
})();
