/* netdx report page: sort a table by a clicked header, filter the
 * Figure-4 table by network, category and text.  No libraries. */
(function () {
  "use strict";
  function cellValue(row, i, numeric) {
    var t = row.cells[i].getAttribute("data-v");
    if (t === null) t = row.cells[i].textContent;
    if (!numeric) return t.toLowerCase();
    var v = parseFloat(t);
    return isNaN(v) ? -Infinity : v;
  }
  function sortBy(th) {
    var table = th.closest("table"), body = table.tBodies[0];
    var i = Array.prototype.indexOf.call(th.parentNode.cells, th);
    var numeric = th.getAttribute("data-type") === "num";
    var asc = !th.classList.contains("asc");
    table.querySelectorAll("th").forEach(function (h) { h.classList.remove("asc", "desc"); });
    th.classList.add(asc ? "asc" : "desc");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, i, numeric), y = cellValue(b, i, numeric);
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  function filter() {
    var net = document.getElementById("f-network").value;
    var cat = document.getElementById("f-category").value;
    var text = document.getElementById("f-text").value.toLowerCase();
    var shown = 0;
    document.querySelectorAll("#figure4 tbody tr").forEach(function (r) {
      var ok = (!net || r.getAttribute("data-network") === net) &&
               (!cat || r.getAttribute("data-category") === cat) &&
               (!text || r.textContent.toLowerCase().indexOf(text) >= 0);
      r.style.display = ok ? "" : "none";
      shown += ok;
    });
    document.getElementById("f-count").textContent = shown + " rows";
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("th.sort").forEach(function (th) {
      th.addEventListener("click", function () { sortBy(th); });
    });
    ["f-network", "f-category", "f-text"].forEach(function (id) {
      var e = document.getElementById(id);
      if (e) e.addEventListener("input", filter);
    });
    if (document.getElementById("f-count")) filter();
  });
})();
