/* Embed builder: turns the form into an /embed URL, previews it, and writes the <iframe>
 * snippet.  All text comes from the page (data-* attributes), so it follows the language. */
(function () {
  "use strict";
  var form = document.getElementById("builder");
  var preview = document.getElementById("preview");
  var snippet = document.getElementById("snippet");
  var base = form.getAttribute("data-embed-url");

  function attr(s) {
    return String(s).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  }

  function embedUrl() {
    var p = new URLSearchParams(), data = new FormData(form);
    p.set("layers", data.getAll("layers").join(","));
    p.set("controls", data.getAll("controls").join(","));
    data.getAll("category").forEach(function (c) { p.append("category", c); });
    data.getAll("stars").forEach(function (s) { p.append("stars", s); });
    if (data.get("district")) { p.set("district", data.get("district")); }
    p.set("lang", data.get("lang"));
    return base + "?" + p.toString();
  }

  function size(name) {
    var v = parseInt(new FormData(form).get(name), 10);
    return Math.min(2000, Math.max(200, isNaN(v) ? 600 : v));
  }

  function update() {
    var url = embedUrl(), w = size("width"), h = size("height");
    if (preview.getAttribute("src") !== url) { preview.setAttribute("src", url); }
    preview.width = w;
    preview.height = h;
    // The server's snippet (the same markup as oEmbed's), its slots filled in.
    snippet.value = form.getAttribute("data-snippet").replace("{src}", attr(url))
      .replace("{width}", String(w)).replace("{height}", String(h));
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
