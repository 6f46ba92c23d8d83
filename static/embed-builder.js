/* Embed builder: turns the form into an /embed URL, previews it, and writes the <iframe>
 * snippet.  All text comes from the page (data-* attributes), so it follows the language;
 * the snippet's markup too (web/maps.py iframe_html, the same as oEmbed's): this only fills
 * its slots. */
(function () {
  "use strict";
  var form = document.getElementById("builder");
  var preview = document.getElementById("preview");
  var snippet = document.getElementById("snippet");
  var base = form.getAttribute("data-embed-url");
  var els = form.elements;

  /* The same entities as geo/text.py escape(), so the code is the server's byte for byte. */
  var ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;",
                  "`": "&#96;", "$": "&#36;", "\\": "&#92;"};
  function attr(s) {
    return String(s).replace(/[&<>"'`$\\]/g, function (c) { return ENTITIES[c]; });
  }

  function checkedValues(name) {
    return Array.prototype.filter.call(form.querySelectorAll('input[name="' + name + '"]'),
      function (i) { return i.checked; }).map(function (i) { return i.value; });
  }

  function embedUrl() {
    var p = new URLSearchParams();
    p.set("layers", checkedValues("layers").join(","));
    p.set("controls", checkedValues("controls").join(","));
    checkedValues("category").forEach(function (c) { p.append("category", c); });
    checkedValues("stars").forEach(function (s) { p.append("stars", s); });
    if (els.district.value) { p.set("district", els.district.value); }
    p.set("lang", checkedValues("lang")[0]);
    // Links open in a new tab unless the site asked for them to replace its page.
    if (checkedValues("target")[0] === "_top") { p.set("target", "_top"); }
    return base + "?" + p.toString();
  }

  function pixels(input, fallback) {
    var v = parseInt(input.value, 10);
    return Math.min(2000, Math.max(200, isNaN(v) ? fallback : v));
  }

  function update() {
    var url = embedUrl(), kind = checkedValues("size")[0];
    var w = pixels(els.width, 800), h = pixels(els.height, 600), ratio = els.ratio.value;
    // Only the fields the chosen size uses can be changed.
    els.ratio.disabled = kind !== "ratio";
    els.width.disabled = kind !== "fixed";
    els.height.disabled = kind === "ratio";
    if (preview.getAttribute("src") !== url) { preview.setAttribute("src", url); }
    preview.removeAttribute("width");
    preview.removeAttribute("height");
    preview.style.cssText = "";
    if (kind === "fixed") {
      preview.width = w; preview.height = h;
    } else {
      preview.style.width = "100%";
      if (kind === "height") { preview.style.height = h + "px"; } else {
        preview.style.aspectRatio = ratio;
      }
    }
    var locate = checkedValues("controls").indexOf("locate") >= 0;
    var values = {src: attr(url), title: attr(form.getAttribute("data-title-" +
                  checkedValues("lang")[0])),
                  allow: attr(form.getAttribute(locate ? "data-allow-locate" : "data-allow")),
                  width: String(w), height: String(h), ratio: attr(ratio)};
    snippet.value = form.getAttribute("data-snippet-" + kind)
      .replace(/\{(src|title|allow|width|height|ratio)\}/g, function (m, k) { return values[k]; });
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  document.getElementById("copy").addEventListener("click", function () {
    snippet.select();
    var done = function () {
      document.getElementById("copied").textContent = form.getAttribute("data-copied");
    };
    if (navigator.clipboard) { navigator.clipboard.writeText(snippet.value).then(done, done); }
    else { document.execCommand("copy"); done(); }
  });
  update();
})();
