/* The map page's chrome: a header (title, search, language) and one panel that holds, one at
 * a time, the search results, the filters, the legend, what is near, or the chosen feature.
 * On a phone the panel is a bottom sheet (tap or swipe its grip to resize: peek, half, full);
 * on a large screen it is a card under the header and features open in map popups.
 *
 * Everything written here goes through textContent or DOM properties, except HTML the server
 * built and escaped (the legend, the title, popups). */
(function () {
  "use strict";
  var O = window.OcopMap, el = O.el, msg = O.msg;
  var SIZES = ["peek", "half", "full"];
  var phone = window.matchMedia("(max-width: 600px)");
  var P = {views: {}, view: null, size: "peek", tabs: {}};
  O.panel = P;

  P.small = function () { return phone.matches; };

  /* ---- layout ------------------------------------------------------------------------- */

  /* Free space around the map's useful part: what the header and panel cover. */
  P.padding = function () {
    var map = O.map, box = map.getContainer().getBoundingClientRect();
    var bar = P.bar ? P.bar.getBoundingClientRect() : null;
    var sheet = P.sheet ? P.sheet.getBoundingClientRect() : null;
    if (P.small()) {
      return {top: bar ? Math.max(0, bar.bottom - box.top) : 0, left: 0, right: 0,
              bottom: sheet ? Math.max(0, box.bottom - sheet.top) : 0};
    }
    var right = Math.max(bar ? bar.right : 0, sheet ? sheet.right : 0);
    return {top: 0, left: Math.max(0, right - box.left), right: 0, bottom: 0};
  };

  /* Leaflet's corners stay clear of the header and the sheet (CSS reads these). */
  function relayout() {
    var pad = P.padding(), root = document.documentElement.style;
    root.setProperty("--ocop-top", (P.small() ? pad.top : 0) + "px");
    root.setProperty("--ocop-bottom", (P.small() ? pad.bottom : 0) + "px");
  }
  P.relayout = relayout;

  function setSize(size) {
    P.size = size;
    P.sheet.setAttribute("data-size", size);
    P.grip.setAttribute("aria-expanded", size === "peek" ? "false" : "true");
    P.grip.setAttribute("aria-label", msg(size === "full" ? "panel_smaller" : "panel_larger"));
    relayout();
  }
  P.setSize = setSize;

  /* Show one view of the panel (and only that one). */
  P.show = function (name) {
    Object.keys(P.views).forEach(function (k) { P.views[k].hidden = k !== name; });
    P.view = name;
    P.body.hidden = !name;
    Object.keys(P.tabs).forEach(function (k) {
      P.tabs[k].setAttribute("aria-expanded", k === name ? "true" : "false");
    });
    if (name && P.small() && P.size === "peek") { setSize("half"); }
    if (!name && P.small()) { setSize("peek"); }
    relayout();
  };

  P.hide = function () { P.show(null); };

  function view(name, label) {
    var section = el("section", {"class": "ocop-view ocop-view-" + name, "aria-label": label});
    section.hidden = true;
    P.views[name] = section;
    P.body.appendChild(section);
    return section;
  }
  P.addView = view;

  function tab(name, text, onClick) {
    var b = el("button", {type: "button", "class": "ocop-tab ocop-tab-" + name,
                          "aria-expanded": "false"}, text);
    if (P.views[name]) { b.setAttribute("aria-controls", P.views[name].id = "ocop-view-" + name); }
    b.addEventListener("click", onClick || function () {
      if (P.view === name) { P.hide(); } else { P.show(name); }
    });
    P.tabs[name] = b;
    P.tabBar.appendChild(b);
    return b;
  }
  P.addTab = tab;

  /* Swipe the sheet's head up or down to resize it; a tap on the grip steps through sizes. */
  function swipe(head) {
    var start = null;
    head.addEventListener("pointerdown", function (e) {
      if (!P.small() || e.target.closest("button:not(.ocop-grip), a, input")) { return; }
      start = {y: e.clientY, size: P.size};
    });
    window.addEventListener("pointerup", function (e) {
      if (!start) { return; }
      var dy = e.clientY - start.y, i = SIZES.indexOf(start.size);
      start = null;
      if (Math.abs(dy) < 30) { return; }
      var next = SIZES[Math.max(0, Math.min(SIZES.length - 1, i + (dy < 0 ? 1 : -1)))];
      setSize(next);
      if (next === "peek") { P.hide(); } else if (!P.view) { P.show(P.lastView || "legend"); }
    });
  }

  /* ---- header: title, search, language ---------------------------------------------------- */

  function buildHeader(opts, st) {
    var bar = el("header", {"class": "ocop-bar"});
    var head = el("div", {"class": "ocop-head"});
    head.innerHTML = opts.title;  // server-built, escaped
    bar.appendChild(head);
    if (st.controls.indexOf("search") >= 0) { buildSearch(bar); }
    var lang = el("a", {"class": "ocop-lang", hreflang: opts.langLink.lang,
                        lang: opts.langLink.lang, href: opts.langLink.href}, opts.langLink.text);
    bar.appendChild(lang);
    P.langLink = lang;
    if (opts.mode === "embed") {
      bar.classList.add("ocop-embedded");
      P.largerLink = O.outward(el("a", {"class": "ocop-larger"}, msg("view_larger")));
      bar.appendChild(P.largerLink);
    }
    P.noticeBox = el("p", {"class": "ocop-notice", role: "status"});
    P.noticeBox.hidden = true;
    bar.appendChild(P.noticeBox);
    return bar;
  }

  P.notice = function (text) {
    P.noticeBox.textContent = text;
    P.noticeBox.hidden = !text;
    relayout();
  };

  function buildSearch(bar) {
    var entries = O.searchEntries(), active = -1, results = [];
    var form = el("form", {"class": "ocop-search", role: "search"});
    var label = el("label", {"for": "ocop-q", "class": "ocop-sr"}, msg("search"));
    var input = el("input", {id: "ocop-q", type: "search", role: "combobox",
                             "aria-autocomplete": "list", "aria-expanded": "false",
                             "aria-controls": "ocop-results", autocomplete: "off",
                             enterkeyhint: "search", placeholder: msg("search_placeholder")});
    input.value = O.state.q || "";  // `q` from the link, kept even before anyone types
    form.appendChild(label);
    form.appendChild(input);
    form.addEventListener("submit", function (ev) { ev.preventDefault(); });
    bar.appendChild(form);
    P.resultsView = null;
    var list = el("ul", {id: "ocop-results", role: "listbox", "class": "ocop-results",
                         "aria-label": msg("search_results")});
    function render() {
      list.textContent = "";
      results.forEach(function (e, i) {
        var li = el("li", {id: "ocop-opt-" + i, role: "option",
                           "aria-selected": i === active ? "true" : "false"});
        li.appendChild(el("b", {}, e.label));
        li.appendChild(el("span", {"class": "kind"}, e.kind + (e.sub ? " · " + e.sub : "")));
        li.addEventListener("mousedown", function (ev) { ev.preventDefault(); pickAt(i); });
        li.addEventListener("click", function () { pickAt(i); });
        list.appendChild(li);
      });
      var open = !!input.value.trim();
      if (!results.length && open) {
        list.appendChild(el("li", {"class": "none", role: "option", "aria-disabled": "true"},
                            msg("no_results")));
      }
      if (open) { P.show("results"); } else if (P.view === "results") { P.hide(); }
      input.setAttribute("aria-expanded", open ? "true" : "false");
      if (active >= 0) { input.setAttribute("aria-activedescendant", "ocop-opt-" + active); }
      else { input.removeAttribute("aria-activedescendant"); }
      var cur = document.getElementById("ocop-opt-" + active);
      if (cur && cur.scrollIntoView) { cur.scrollIntoView({block: "nearest"}); }
    }
    function pickAt(i) {
      var e = results[i];
      if (!e) { return; }
      input.setAttribute("aria-expanded", "false");
      P.hide();
      O.choose(e);
    }
    input.addEventListener("input", function () {
      O.state.q = input.value;
      results = O.rank(entries, input.value);
      active = results.length ? 0 : -1;
      render();
      clearTimeout(P._urlTimer);
      P._urlTimer = setTimeout(O.writeUrl, 300);
    });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "ArrowDown" && results.length) {
        active = (active + 1) % results.length; render(); ev.preventDefault();
      } else if (ev.key === "ArrowUp" && results.length) {
        active = (active - 1 + results.length) % results.length; render(); ev.preventDefault();
      } else if (ev.key === "Enter") {
        pickAt(active < 0 ? 0 : active); ev.preventDefault();
      } else if (ev.key === "Escape" && P.view === "results") {
        P.hide(); input.setAttribute("aria-expanded", "false"); ev.stopPropagation();
      }
    });
    input.addEventListener("focus", function () { if (input.value.trim()) { render(); } });
    P.searchList = list;
    O.searchInput = input;
    O.searchRun = function () { input.dispatchEvent(new Event("input")); };
  }

  /* ---- filters ------------------------------------------------------------------------------ */

  function checkbox(name, value, text, onChange, swatch) {
    var lab = el("label", {"class": "ocop-check"});
    var cb = el("input", {type: "checkbox", name: name, value: value});
    cb.addEventListener("change", onChange);
    lab.appendChild(cb);
    if (swatch) { lab.appendChild(swatch); }
    lab.appendChild(el("span", {}, text));
    return {label: lab, input: cb};
  }

  function group(legendText, items, name, onChange) {
    var fs = el("fieldset"), inputs = [];
    fs.appendChild(el("legend", {}, legendText));
    items.forEach(function (it) {
      var c = checkbox(name, it.value, it.text, onChange, it.swatch);
      fs.appendChild(c.label);
      inputs.push(c.input);
    });
    return {node: fs, inputs: inputs};
  }

  /* A long list (districts, communes) folded under a summary that says what is chosen. */
  function longGroup(title, items, name, onChange) {
    var box = el("details", {"class": "ocop-long"}), summary = el("summary");
    var inner = group(title, items, name, onChange);
    box.appendChild(summary);
    box.appendChild(inner.node);
    return {node: box, inputs: inner.inputs, summary: summary, title: title};
  }

  function buildFilters(opts) {
    var v = view("filters", msg("filters"));
    v.appendChild(el("h2", {}, msg("filters")));
    function changed() { O.setFilter(fromControls()); }
    var cats = group(msg("category_filter"), opts.categories.map(function (c) {
      return {value: c.code, text: c.name, swatch: el("span", {"class": "ocop-swatch cat-" + c.code})};
    }), "category", changed);
    var stars = group(msg("stars_filter"), opts.stars.map(function (s) {
      return {value: String(s), text: msg("stars_n", {n: s})};
    }), "stars", changed);
    var valid = checkbox("certificate", "valid", msg("valid_only"), changed);
    var districts = longGroup(msg("district_filter"), opts.districts.map(function (d) {
      return {value: d.code, text: d.name};
    }), "district", changed);
    var communes = longGroup(msg("commune_filter"), opts.communes.map(function (c) {
      return {value: c.code, text: c.name};
    }), "commune", changed);
    var clear = el("button", {type: "button", "class": "ocop-button"}, msg("clear_filters"));
    clear.addEventListener("click", function () { O.setFilter({cql: ""}); });
    [cats.node, stars.node, valid.label, districts.node, communes.node, clear]
      .forEach(function (n) { v.appendChild(n); });
    var links = el("p", {"class": "ocop-links"});
    links.appendChild(el("span", {}, msg("download") + ":"));
    P.downloadLinks = ["geojson", "csv", "xlsx", "kml", "gpkg"].map(function (fmt) {
      var a = O.outward(el("a", {"data-format": fmt, download: "", "class": "ocop-button"},
                             fmt.toUpperCase()));
      links.appendChild(a);
      return a;
    });
    v.appendChild(links);
    if (!opts.static) {
      P.listLink = O.outward(el("a", {"class": "ocop-button ocop-list-link"}, msg("list_view")));
      v.appendChild(P.listLink);
    }
    P.controls = {categories: cats.inputs, stars: stars.inputs, valid: valid.input,
                  districts: districts, communes: communes};
  }

  function checked(list, conv) {
    return list.filter(function (i) { return i.checked; })
      .map(function (i) { return conv ? conv(i.value) : i.value; });
  }

  function fromControls() {
    var c = P.controls;
    return {categories: checked(c.categories), stars: checked(c.stars, Number),
            districts: checked(c.districts.inputs), communes: checked(c.communes.inputs),
            valid: c.valid.checked};
  }

  /* The controls show what the state (and so the URL) says. */
  function syncControls() {
    var c = P.controls, st = O.state;
    if (!c) { return; }
    function set(list, values, conv) {
      list.forEach(function (i) { i.checked = values.indexOf(conv ? conv(i.value) : i.value) >= 0; });
    }
    set(c.categories, st.categories); set(c.stars, st.stars, Number);
    set(c.districts.inputs, st.districts); set(c.communes.inputs, st.communes);
    c.valid.checked = !!st.valid;
    [[c.districts, st.districts], [c.communes, st.communes]].forEach(function (pair) {
      var names = pair[0].inputs.filter(function (i) { return i.checked; })
        .map(function (i) { return i.parentNode.textContent; });
      pair[0].summary.textContent = pair[0].title + (names.length ? ": " + names.join(", ") : "");
      if (names.length) { pair[0].node.open = true; }
    });
  }

  /* ---- legend --------------------------------------------------------------------------- */

  function buildLegend(opts) {
    var v = view("legend", msg("legend"));
    v.appendChild(el("h2", {"class": "ocop-sr"}, msg("legend")));
    var box = el("div", {"class": "ocop-legend"});
    box.innerHTML = opts.legend;  // server-built, escaped
    v.appendChild(box);
    P.legendClasses = box.querySelector(".ocop-classes");
    P.districtLegend = box.querySelector(".ocop-legend-districts");
  }

  /* The legend shows the district colours only while the districts layer is on. */
  P.layersShown = function () {
    if (P.districtLegend) {
      P.districtLegend.hidden = !(O.layers.districts && O.map.hasLayer(O.layers.districts));
    }
  };

  /* After each filter: district classes in the legend, the count, the Filters tab. */
  P.filtered = function (used) {
    var opts = O.opts, st = O.state, list = P.legendClasses;
    if (list) {
      list.textContent = "";
      opts.classes.forEach(function (cls) {
        if (!used[cls.min] && cls.min !== 0) { return; }
        var li = el("li"), sw = el("span", {"class": "ocop-swatch box", "aria-hidden": "true"});
        sw.style.background = cls.color;
        li.appendChild(sw);
        li.appendChild(document.createTextNode(cls.label));
        list.appendChild(li);
      });
    }
    var n = O.activeFilters();
    P.status.textContent = msg("shown", {n: st.shown, total: O.rows.products.length});
    if (P.tabs.filters) {
      P.tabs.filters.textContent = n ? msg("filters_active", {n: n}) : msg("filters");
    }
    syncControls();
  };

  /* ---- the chosen feature ---------------------------------------------------------------- */

  var popup = null;

  function featureContent(layerKey, id, html) {
    var box = el("div", {"class": "ocop-feature"});
    box.innerHTML = html;  // server-built, escaped
    box.querySelectorAll("a[data-ocop-open]").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        ev.preventDefault();
        var parts = a.getAttribute("data-ocop-open").split(":");
        O.select(parts[0], parts[1], {returnTo: O.returnFocus});
      });
    });
    box.querySelectorAll("a[href]:not([data-ocop-open])").forEach(O.outward);
    if (O.near) { box.appendChild(O.near.shareButton(layerKey, id)); }
    return box;
  }

  function focusHeading(root) {
    var h = root.querySelector("h2") || root;
    h.setAttribute("tabindex", "-1");
    h.focus({preventScroll: true});
  }

  P.showFeature = function (layerKey, hit, focus) {
    var id = hit.row.id, title = hit.row.title;
    P.featureTitle = title;
    var loading = el("p", {"class": "ocop-loading"}, "…");
    function fill(node) {
      O.popupsOf(layerKey).then(function (all) {
        if (O.state.sel !== layerKey + ":" + id) { return; }
        node.textContent = "";
        node.appendChild(featureContent(layerKey, id, all[id] || ""));
        if (popup && popup.isOpen()) { popup.update(); }
        // The sheet has grown with the details: keep the feature above it.
        if (P.small()) { relayout(); O.ensureVisible(hit.marker.getLatLng()); }
        if (focus) { focusHeading(node); }
      }, function () {
        node.textContent = "";
        node.appendChild(el("p", {}, msg("popup_unavailable")));
      });
    }
    if (P.small()) {
      if (popup) { popup.remove(); }
      P.featureBody.textContent = "";
      P.featureBody.appendChild(loading);
      P.show("feature");
      O.ensureVisible(hit.marker.getLatLng());
      fill(P.featureBody);
    } else {
      var holder = el("div", {"class": "ocop-popup-holder"});
      holder.appendChild(loading);
      if (!popup) {
        popup = L.popup({maxWidth: 320, minWidth: 220, autoPanPadding: [20, 20],
                         className: "ocop-leaflet-popup"});
        popup.on("remove", function () {
          if (!P.swapping) { O.deselect(false); }
        });
      }
      var pad = P.padding();
      popup.options.autoPanPaddingTopLeft = [pad.left + 10, 20];
      popup.options.maxHeight = Math.max(200, O.map.getSize().y - 80);
      popup.setLatLng(hit.marker.getLatLng()).setContent(holder);
      if (!popup.isOpen()) { popup.openOn(O.map); }
      var x = popup.getElement().querySelector(".leaflet-popup-close-button");
      if (x) { x.title = msg("close"); x.setAttribute("aria-label", msg("close")); }
      if (P.view === "results") { P.hide(); }
      fill(holder);
    }
    setTitle();
  };

  P.hideFeature = function () {
    P.featureTitle = null;
    if (popup && popup.isOpen()) { P.swapping = true; popup.remove(); P.swapping = false; }
    if (P.view === "feature") { P.hide(); }
    setTitle();
  };

  /* ---- state: title, links --------------------------------------------------------------- */

  function setTitle() {
    var parts = [], st = O.state;
    if (P.featureTitle) { parts.push(P.featureTitle); }
    if (st && O.activeFilters()) {
      parts.push(msg("shown", {n: st.shown, total: O.rows.products.length}));
    }
    parts.push(O.opts.pageTitle);
    document.title = parts.join(" · ");
  }

  P.stateChanged = function (params) {
    var opts = O.opts, p = new URLSearchParams(params);
    if (P.largerLink) {
      var full = new URLSearchParams(params);
      full.delete("layers"); full.delete("controls"); full.delete("target");
      P.largerLink.href = opts.urls.full + "?" + full.toString();
    }
    // The language switch keeps the whole state.
    p.set("lang", opts.langLink.lang);
    var target = opts.static ? opts.urls.otherLang : location.pathname;
    P.langLink.href = target + "?" + p.toString();
    var fp = O.filterParams(true);
    (P.downloadLinks || []).forEach(function (a) {
      // A static copy has no server to filter: its downloads are the whole collection.
      var query = opts.static ? "" : "?" + fp.toString();
      a.href = opts.urls.exports + "products." + a.getAttribute("data-format") + query;
    });
    if (P.listLink) {
      var lp = O.filterParams(false);
      lp.set("lang", opts.lang);
      P.listLink.href = opts.urls.list + "?" + lp.toString();
    }
    setTitle();
  };

  /* ---- building it all --------------------------------------------------------------------- */

  P.build = function (map, opts, st) {
    var chosen = st.controls, container = map.getContainer();
    // Landmarks: the header, the map as the main content, the panel beside it.  The header
    // comes first so the search box is the first stop for Tab.
    // One column holds both: a card on the left of a large screen; on a phone the header at
    // the top and the sheet at the bottom.
    var main = el("main", {"class": "ocop-main", "aria-label": msg("map_label")});
    var side = el("div", {"class": "ocop-side"});
    container.parentNode.insertBefore(side, container);
    container.parentNode.insertBefore(main, container);
    main.appendChild(container);
    P.bar = buildHeader(opts, st);
    side.appendChild(P.bar);
    if (opts.mode === "embed") { side.classList.add("ocop-embedded"); }

    var sheet = P.sheet = el("aside", {"class": "ocop-sheet", "aria-label": msg("panel_label")});
    var head = el("div", {"class": "ocop-sheet-head"});
    P.grip = el("button", {type: "button", "class": "ocop-grip", "aria-controls": "ocop-sheet-body"});
    P.grip.appendChild(el("span", {"aria-hidden": "true"}));
    P.grip.addEventListener("click", function () {
      var next = SIZES[(SIZES.indexOf(P.size) + 1) % SIZES.length];
      setSize(next);
      if (next === "peek") { P.hide(); } else if (!P.view) { P.show(P.lastView || "legend"); }
    });
    P.tabBar = el("div", {"class": "ocop-tabs"});
    P.status = el("p", {"class": "ocop-status", role: "status", "aria-live": "polite"});
    head.appendChild(P.grip); head.appendChild(P.tabBar); head.appendChild(P.status);
    // Focusable, so a keyboard can scroll a long view (the legend, a long list).
    P.body = el("div", {"class": "ocop-sheet-body", id: "ocop-sheet-body", tabindex: "0",
                        "aria-label": msg("panel_label")});
    P.body.hidden = true;
    sheet.appendChild(head); sheet.appendChild(P.body);
    side.appendChild(sheet);
    swipe(head);

    if (P.searchList) {
      var results = view("results", msg("search_results"));
      results.appendChild(P.searchList);
    }
    if (chosen.indexOf("filters") >= 0) { buildFilters(opts); tab("filters", msg("filters")); }
    if (chosen.indexOf("legend") >= 0) { buildLegend(opts); tab("legend", msg("legend")); }
    if (O.near) { O.near.build(P, chosen.indexOf("locate") >= 0 && !opts.static); }
    var feature = view("feature", msg("details"));
    var close = el("button", {type: "button", "class": "ocop-close", "aria-label": msg("close")},
                   "×");
    close.addEventListener("click", function () { O.deselect(true); });
    P.featureBody = el("div", {"class": "ocop-feature-body"});
    feature.appendChild(close); feature.appendChild(P.featureBody);
    var remember = P.show;
    P.show = function (name) {
      if (name && name !== "results" && name !== "feature") { P.lastView = name; }
      if (P.view === "feature" && name !== "feature" && O.state.sel) {
        O.state.sel = null; O.writeUrl();
      }
      remember(name);
    };

    // Map controls: zoom and layers on the right; the scale above the attribution, so the
    // two never overlap; both clear of the sheet on phones (CSS --ocop-bottom).
    if (chosen.indexOf("zoom") < 0) { map.zoomControl.remove(); } else {
      map.zoomControl.setPosition("topright");
    }
    var layerCtl = container.querySelector(".leaflet-control-layers");
    if (layerCtl && chosen.indexOf("layers") < 0) { layerCtl.hidden = true; }
    // Leaflet names its buttons in English: say it in the page's language.
    [[".leaflet-control-zoom-in", "zoom_in"], [".leaflet-control-zoom-out", "zoom_out"],
     [".leaflet-control-layers-toggle", "embed_layers"]].forEach(function (pair) {
      var b = container.querySelector(pair[0]);
      if (b) { b.title = msg(pair[1]); b.setAttribute("aria-label", msg(pair[1])); }
    });
    L.control.scale({position: "bottomright", imperial: opts.lang === "en"}).addTo(map);

    // Escape closes what is open, innermost first, and gives focus back.
    document.addEventListener("keydown", function (ev) {
      if (ev.key !== "Escape") { return; }
      if (O.state.sel) { O.deselect(true); ev.preventDefault(); }
      else if (P.view && P.view !== "results") { P.hide(); }
    });
    // A phone shows the chosen panel; a large screen starts with the legend open.
    if (!P.small() && P.tabs.legend) { P.show("legend"); } else { setSize("peek"); }
    phone.addEventListener("change", function () { relayout(); });
    window.addEventListener("resize", relayout);
    // The header and sheet change height with their text (a notice, a wrapped count).
    if (window.ResizeObserver) {
      var watcher = new ResizeObserver(function () { relayout(); });
      watcher.observe(P.bar); watcher.observe(sheet);
    }
    relayout();
  };
})();
