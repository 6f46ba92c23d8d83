/* Client side of the OCOP map: draws points from compact rows the server prepared.
 * Every text in the rows is already escaped by the server (geo/text.py), so popups and
 * tooltips may be set as HTML; nothing here builds HTML from raw data. */
(function () {
  "use strict";
  var OcopMap = {};

  function pin(cls, inner) {
    return L.divIcon({className: "ocop-icon", html: '<span class="' + cls + '">' + inner + "</span>",
                      iconSize: [26, 26], iconAnchor: [13, 13], popupAnchor: [0, -12]});
  }

  function bind(marker, row) {
    // Pan clear of the title box in the top-left corner when a popup opens.
    marker.bindPopup(row.popup, {maxWidth: 300, maxHeight: Math.round(window.innerHeight * 0.6),
                                 autoPanPadding: [20, 20],
                                 autoPanPaddingTopLeft: [20, 130]});
    marker.bindTooltip(row.tooltip, {direction: "top", offset: [0, -10]});
    marker.options.ocopId = row.id;
    return marker;
  }

  /* Products: one cluster group, markers built in chunks so a large set never blocks. */
  OcopMap.productLayer = function (data) {
    var group = L.markerClusterGroup({chunkedLoading: true, showCoverageOnHover: false,
                                      maxClusterRadius: 45, spiderfyOnMaxZoom: true});
    var markers = data.rows.map(function (r) {
      var cls = "ocop-pin cat-" + data.categories[r.c] + " stars-" + r.s;
      return bind(L.marker([r.y, r.x], {icon: pin(cls, String(r.s)), title: r.title,
                                        keyboard: true}), r);
    });
    group.addLayers(markers);
    return group;
  };

  /* Destinations: an icon per kind.  Many share a centroid (see location_precision), so
   * they cluster tightly and spiderfy instead of hiding under each other. */
  OcopMap.destinationLayer = function (data) {
    var group = L.markerClusterGroup({maxClusterRadius: 12, showCoverageOnHover: false,
      iconCreateFunction: function (c) {
        return pin("ocop-dest ocop-dest-cluster", String(c.getChildCount()));
      }});
    data.rows.forEach(function (r) {
      var kind = data.kinds[r.k];
      var img = '<img alt="" src="' + data.iconBase + kind + '.svg">';
      bind(L.marker([r.y, r.x], {icon: pin("ocop-dest", img), title: r.title,
                                 zIndexOffset: 500}), r).addTo(group);
    });
    return group;
  };

  /* The 2025 communes: small circles at their centroids, off until chosen. */
  OcopMap.communeLayer = function (data) {
    var group = L.featureGroup();
    data.rows.forEach(function (r) {
      bind(L.circleMarker([r.y, r.x], {radius: 5, color: "#364fc7", weight: 1,
                                       fillColor: "#748ffc", fillOpacity: 0.8}), r).addTo(group);
    });
    return group;
  };

  /* Legend, title and attribution: HTML prepared and escaped on the server. */
  OcopMap.decorate = function (map, opts) {
    /* The legend folds away on phones, and whenever a popup opens there, so it never
     * hides the popup a tourist just asked for. */
    var small = window.matchMedia("(max-width: 600px)");
    var legend = L.control({position: "bottomright"});
    legend.onAdd = function () {
      var box = L.DomUtil.create("details", "ocop-legend");
      box.innerHTML = opts.legend;
      box.open = !small.matches;
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      map.on("popupopen", function () { if (small.matches) { box.open = false; } });
      return box;
    };
    legend.addTo(map);
    var title = L.control({position: "topleft"});
    title.onAdd = function () {
      var div = L.DomUtil.create("div", "ocop-title");
      div.innerHTML = opts.title;
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    title.addTo(map);
    opts.attributions.forEach(function (a) { map.attributionControl.addAttribution(a); });
    map.getContainer().setAttribute("data-ocop-ready", "1");
  };

  /* Show a feature by id: zoom into its cluster if needed, then open its popup.
   * markercluster's zoomToShowLayer never calls back if a zoom is already animating,
   * so wait for that zoom to end first. */
  OcopMap.open = function (layerKey, id) {
    var group = OcopMap.layers[layerKey], found = null;
    group.eachLayer(function (m) { if (m.options.ocopId === id) { found = m; } });
    if (!found) { return false; }
    var map = group._map;
    function show() {
      if (!group.getVisibleParent || group.getVisibleParent(found) === found) {
        found.openPopup();
      } else {
        group.zoomToShowLayer(found, function () { found.openPopup(); });
      }
    }
    if (map && map._animatingZoom) { map.once("zoomend", show); } else { show(); }
    return true;
  };

  window.OcopMap = OcopMap;
})();
